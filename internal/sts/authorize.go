package sts

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// AuthorizeRequest is a parsed /authorize request (authorization code flow with PKCE).
type AuthorizeRequest struct {
	Version             Version `json:"v"`
	ClientID            string  `json:"c"`
	ResponseType        string  `json:"rt"`
	RedirectURI         string  `json:"r"`
	Scope               string  `json:"s,omitempty"`
	Resource            string  `json:"res,omitempty"`
	State               string  `json:"st,omitempty"`
	Nonce               string  `json:"n,omitempty"`
	CodeChallenge       string  `json:"p,omitempty"`
	CodeChallengeMethod string  `json:"pm,omitempty"`
	Prompt              string  `json:"pr,omitempty"`
	LoginHint           string  `json:"lh,omitempty"`
	ResponseMode        string  `json:"rm,omitempty"`
	ClientInfo          bool    `json:"ci,omitempty"`
}

// ParseAuthorizeRequest reads an authorize request's query. It returns the request and two
// kinds of refusal: pageErr when the client or redirect URI cannot be trusted yet (shown on an
// error page, never redirected), and redirectErr for every other problem, which goes back to the
// (then registered) redirect URI with state. The redirect URI is checked against the client's
// registration by the caller.
func ParseAuthorizeRequest(v Version, q url.Values) (req AuthorizeRequest, pageErr, redirectErr *Error) {
	req.Version = v
	get := func(name string) string {
		if len(q[name]) == 0 {
			return ""
		}
		return q[name][0]
	}
	req.ClientID = strings.TrimSpace(get("client_id"))
	req.RedirectURI = get("redirect_uri")
	req.State = get("state")
	if req.ClientID == "" {
		return req, errMissingParameterNamed("client_id"), nil
	}
	if len(req.ClientID) > 200 || !isGUID(req.ClientID) {
		return req, errMalformed("The client_id '%s' is not a valid application identifier.", truncate(req.ClientID, 100)), nil
	}
	if req.RedirectURI == "" {
		return req, errMissingParameterNamed("redirect_uri"), nil
	}
	if _, _, _, _, ok := splitURI(req.RedirectURI); !ok || len(req.RedirectURI) > 2048 {
		return req, errMalformed("The redirect_uri '%s' is not a valid absolute URI.", truncate(req.RedirectURI, 200)), nil
	}
	for _, name := range []string{"client_id", "redirect_uri", "state", "response_type", "scope", "nonce", "code_challenge", "prompt", "response_mode"} {
		if len(q[name]) > 1 {
			return req, nil, errMalformed("The parameter '%s' appears more than once; send it once.", name)
		}
	}
	// Parameters go into the sealed sign-in context as JSON, which would turn each byte that is
	// not UTF-8 into U+FFFD, so state would come back changed; refused instead, as the token
	// endpoint refuses such a body.
	for _, name := range []string{"state", "response_type", "scope", "resource", "nonce", "code_challenge", "code_challenge_method", "prompt", "login_hint", "response_mode"} {
		for _, v := range q[name] {
			if !utf8.ValidString(v) {
				if name == "state" {
					req.State = ""
				}
				return req, nil, errMalformed("The parameter '%s' is not valid UTF-8 once percent-decoded; encode text as UTF-8 before percent-encoding it.", name)
			}
		}
	}
	if len(req.State) > 2000 {
		req.State = ""
		return req, nil, errMalformed("The state parameter is longer than 2000 characters.")
	}
	req.ResponseType = strings.TrimSpace(get("response_type"))
	req.Scope = strings.TrimSpace(get("scope"))
	req.Resource = strings.TrimSpace(get("resource"))
	req.Nonce = get("nonce")
	req.CodeChallenge = get("code_challenge")
	req.CodeChallengeMethod = get("code_challenge_method")
	req.Prompt = strings.ToLower(strings.TrimSpace(get("prompt")))
	req.LoginHint = strings.TrimSpace(get("login_hint"))
	req.ResponseMode = strings.ToLower(strings.TrimSpace(get("response_mode")))
	req.ClientInfo = get("client_info") == "1"
	switch {
	case req.ResponseType == "":
		return req, nil, errMissingParameterNamed("response_type")
	case req.ResponseType != "code":
		return req, nil, NewError(http.StatusBadRequest, "unsupported_response_type", codeUnsupportedResponse,
			"The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: code. Received value: %s.",
			truncate(req.ResponseType, 100))
	}
	switch req.ResponseMode {
	case "", "query", "fragment", "form_post":
	default:
		return req, nil, errMalformed("The response_mode '%s' is not supported for the code flow here; use query, fragment or form_post.", truncate(req.ResponseMode, 50))
	}
	switch req.Prompt {
	case "", "login", "select_account", "none", "consent":
	default:
		return req, nil, errMalformed("Invalid value specified for parameter 'prompt': '%s'. Use login, select_account, consent or none.", truncate(req.Prompt, 50))
	}
	if len(req.Nonce) > 1000 || len(req.LoginHint) > 256 || len(req.Scope) > 2000 || len(req.Resource) > 2000 {
		return req, nil, errMalformed("A parameter (nonce, login_hint, scope or resource) is too long.")
	}
	if req.CodeChallenge != "" {
		switch req.CodeChallengeMethod {
		case "":
			req.CodeChallengeMethod = "plain" // RFC 7636 §4.3
		case "S256", "plain":
		default:
			return req, nil, NewError(http.StatusBadRequest, "invalid_request", 501491,
				"Invalid code_challenge_method '%s'. Use S256 or plain.", truncate(req.CodeChallengeMethod, 50))
		}
		if n := len(req.CodeChallenge); n < 43 || n > 128 {
			return req, nil, NewError(http.StatusBadRequest, "invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
		}
	} else if req.CodeChallengeMethod != "" {
		return req, nil, errMissingParameterNamed("code_challenge")
	}
	if v == V2 {
		if req.Scope == "" {
			return req, nil, errMissingParameterNamed("scope")
		}
		if _, e := ParseUserScope(req.Scope); e != nil {
			return req, nil, e
		}
	}
	return req, nil, nil
}

func errMissingParameterNamed(name string) *Error {
	return NewError(http.StatusBadRequest, "invalid_request", codeMissingParameter,
		"The request must contain the following parameter: '%s'.", name)
}
