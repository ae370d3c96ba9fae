package arm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/jsonbody"
	"github.com/mint-id/mint/internal/store"
)

// Response header names ARM sets (https://learn.microsoft.com/rest/api/azure/#response-headers).
const (
	HeaderRequestID                   = "x-ms-request-id"
	HeaderCorrelationRequestID        = "x-ms-correlation-request-id"
	HeaderClientRequestID             = "x-ms-client-request-id"
	HeaderReturnClientRequestID       = "x-ms-return-client-request-id"
	HeaderRoutingRequestID            = "x-ms-routing-request-id"
	HeaderFailureCause                = "x-ms-failure-cause"
	HeaderRateLimitReads              = "x-ms-ratelimit-remaining-subscription-reads"
	HeaderRateLimitWrites             = "x-ms-ratelimit-remaining-subscription-writes"
	HeaderRateLimitDeletes            = "x-ms-ratelimit-remaining-subscription-deletes"
	contentTypeJSON                   = "application/json; charset=utf-8"
	routingRegion                     = "LOCAL"
	maxEchoedIDLength                 = 128
	maxRequestBody              int64 = 4 << 20 // ARM's request size limit
)

// StampHeaders sets the headers every ARM response carries: x-ms-request-id (new),
// x-ms-correlation-request-id (the client's x-ms-correlation-request-id, else its
// x-ms-client-request-id, else new), x-ms-routing-request-id, x-ms-client-request-id when the
// client asked for it back, the no-cache trio, nosniff and HSTS, and the remaining-rate-limit
// header for the method. It is idempotent: the IDs are set once per response, so a handler may
// call it early to learn the correlation id for its activity log entry and WriteJSON will keep it.
func StampHeaders(w http.ResponseWriter, r *http.Request) (requestID, correlationID string) {
	h := w.Header()
	requestID, correlationID = h.Get(HeaderRequestID), h.Get(HeaderCorrelationRequestID)
	if requestID != "" && correlationID != "" {
		return requestID, correlationID
	}
	if requestID == "" {
		requestID = uuid.NewString()
		h.Set(HeaderRequestID, requestID)
		h.Set(HeaderRoutingRequestID, routingRegion+":"+time.Now().UTC().Format("20060102T150405Z")+":"+requestID)
	}
	if correlationID == "" {
		correlationID = echoable(r.Header.Get(HeaderCorrelationRequestID))
		if correlationID == "" {
			correlationID = echoable(r.Header.Get(HeaderClientRequestID))
		}
		if correlationID == "" {
			correlationID = uuid.NewString()
		}
		h.Set(HeaderCorrelationRequestID, correlationID)
	}
	if strings.EqualFold(r.Header.Get(HeaderReturnClientRequestID), "true") {
		if id := echoable(r.Header.Get(HeaderClientRequestID)); id != "" {
			h.Set(HeaderClientRequestID, id)
		}
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.Set(HeaderRateLimitReads, "11999")
	case http.MethodDelete:
		h.Set(HeaderRateLimitDeletes, "14999")
	default:
		h.Set(HeaderRateLimitWrites, "1199")
	}
	return requestID, correlationID
}

// echoable returns a client-supplied id if it is safe to echo in a header and a log: at most 128
// printable ASCII characters. Anything else is dropped (and replaced by a fresh id).
func echoable(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxEchoedIDLength {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return ""
		}
	}
	return s
}

// WriteJSON writes v as JSON with status and the ARM headers.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		_, corr := StampHeaders(w, r)
		WriteError(w, r, http.StatusInternalServerError, InternalServerError(corr))
		return
	}
	writeBody(w, r, status, body)
}

func writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	StampHeaders(w, r)
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// WriteEmpty writes a response without a body (DELETE's 200 and 204, and the like) with the ARM
// headers and Content-Length: 0.
func WriteEmpty(w http.ResponseWriter, r *http.Request, status int) {
	StampHeaders(w, r)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// SetLocation sets the Location header ARM puts on a synchronous 201: the resource ID, without
// host (https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/resource-api-reference.md). Do not use it on an operation the SDKs treat as long-running (a
// "Begin..." method, e.g. Key Vault's vaults CreateOrUpdate): azcore then polls Location, and a
// relative URL fails there with "invalid polling URL".
func SetLocation(w http.ResponseWriter, resourceID string) {
	w.Header().Set("Location", resourceID)
}

// WriteError writes e in ARM's envelope with the ARM headers. status 0 means e.Status (and 500
// when that is unset too). A 401 carries WWW-Authenticate: the challenge set with WithChallenge,
// or a bare Bearer challenge naming the error. ResourceGroupNotFound carries
// x-ms-failure-cause: gateway, as ARM's front door answers it.
func WriteError(w http.ResponseWriter, r *http.Request, status int, e *Error) {
	_, corr := StampHeaders(w, r)
	if e == nil {
		e = InternalServerError(corr)
	}
	if status == 0 {
		status = e.Status
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		challenge := e.challenge
		if challenge == "" {
			challenge = fmt.Sprintf(`Bearer error="invalid_token", error_description="%s"`, quoteSafe(e.Message))
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", store.UnavailableRetryAfter)
	}
	if e.Code == CodeResourceGroupNotFound {
		w.Header().Set(HeaderFailureCause, "gateway")
	}
	body, err := json.Marshal(ErrorResponse{Error: e})
	if err != nil { // only an unmarshalable AdditionalInfo.Info can get here
		body, _ = json.Marshal(ErrorResponse{Error: InternalServerError(corr)})
		status = http.StatusInternalServerError
	}
	writeBody(w, r, status, body)
}

// RequireAPIVersion returns the request's api-version in the spelling of supported (matched
// case-insensitively), or MissingApiVersionParameter / InvalidApiVersionParameter. Resource
// providers that should answer NoRegisteredProviderFound instead build it themselves.
func RequireAPIVersion(r *http.Request, supported []string) (string, *Error) {
	v := strings.TrimSpace(r.URL.Query().Get("api-version"))
	if v == "" {
		return "", MissingAPIVersionParameter()
	}
	for _, s := range supported {
		if strings.EqualFold(s, v) {
			return s, nil
		}
	}
	return "", InvalidAPIVersionParameter(v, supported)
}

// DecodeJSON reads a JSON request body (at most 4 MiB) into v. Unknown fields are ignored, as
// ARM ignores them. Failures are InvalidRequestContent naming what and where, in the style of
// ARM's json.net messages ("... Path 'properties.x', line 1, position 12.").
func DecodeJSON(r *http.Request, v any) *Error {
	if r.Body == nil {
		return InvalidRequestContent("The request content is empty.")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return InvalidRequestContent("The request content could not be read.")
	}
	if int64(len(data)) > maxRequestBody {
		return NewError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("The request content size exceeds the maximum size of %d bytes.", maxRequestBody))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return InvalidRequestContent("The request content is empty.")
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		// encoding/json leaves v as it was: a PUT would read as an empty resource, a PATCH as no
		// change, both answered as done.
		return InvalidRequestContent("The request content is null: send a JSON object.")
	}
	if !utf8.Valid(data) {
		// encoding/json would silently store U+FFFD in place of each bad byte.
		return InvalidRequestContent("The request content is not valid UTF-8.")
	}
	if err := json.Unmarshal(data, v); err != nil {
		if e := AsError(err); e.Status == http.StatusBadRequest {
			return e // a field's own UnmarshalJSON rejected it (e.g. the identity block)
		}
		return InvalidRequestContent(describeJSONError(data, err))
	}
	if err := jsonbody.Check(data); err != nil {
		// Two spellings of one property, or a lone surrogate: encoding/json would resolve
		// either silently (the last spelling wins, U+FFFD replaces the surrogate).
		return InvalidRequestContent(err.Error() + ".")
	}
	return nil
}

func describeJSONError(data []byte, err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		line, pos := lineAndPosition(data, syn.Offset)
		return fmt.Sprintf("%s. Path '', line %d, position %d.", syn.Error(), line, pos)
	case errors.As(err, &typ):
		line, pos := lineAndPosition(data, typ.Offset)
		return fmt.Sprintf("Error converting value of type %s to %s. Path '%s', line %d, position %d.", typ.Value, typ.Type, typ.Field, line, pos)
	}
	return err.Error()
}

// lineAndPosition turns a byte offset into json.net's 1-based line and position.
func lineAndPosition(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, pos := 1, 0
	for _, c := range data[:offset] {
		if c == '\n' {
			line, pos = line+1, 0
		} else {
			pos++
		}
	}
	return line, pos
}

// Paging.

const (
	// DefaultPageSize is the page size when the client sends no $top.
	DefaultPageSize = 100
	// MaxPageSize caps $top.
	MaxPageSize = 1000
)

// List is ARM's list envelope. NextLink is absent on the last page.
type List[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

// PageParams reads $skiptoken and $top. $top must be an integer from 1 to MaxPageSize; 0 means
// absent.
func PageParams(r *http.Request) (skiptoken string, top int, e *Error) {
	q := r.URL.Query()
	skiptoken = q.Get("$skiptoken")
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > MaxPageSize {
			return "", 0, NewError(http.StatusBadRequest, CodeInvalidTopParameter, fmt.Sprintf(
				"The value '%s' of the $top query parameter is invalid. It must be an integer between 1 and %d.", t, MaxPageSize))
		}
		top = n
	}
	return skiptoken, top, nil
}

// Page returns one page of items, which the caller has put in a stable order: the page starting
// where skiptoken says (the first page for ""), of top items (DefaultPageSize when top <= 0),
// and the skiptoken of the next page ("" on the last page). Skiptokens are opaque offsets, so
// an item created or deleted between two page requests can shift the following pages by one.
func Page[T any](items []T, skiptoken string, top int) (page []T, next string, e *Error) {
	if top <= 0 {
		top = DefaultPageSize
	}
	if top > MaxPageSize {
		top = MaxPageSize
	}
	start := 0
	if skiptoken != "" {
		n, ok := decodeSkipToken(skiptoken)
		if !ok {
			return nil, "", invalidSkipToken(skiptoken)
		}
		start = min(n, len(items))
	}
	end := min(start+top, len(items))
	page = items[start:end:end]
	if end < len(items) {
		next = encodeSkipToken(end)
	}
	return page, next, nil
}

func invalidSkipToken(skiptoken string) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidSkipToken, fmt.Sprintf(
		"The $skiptoken '%s' is invalid. Use the nextLink of the previous page unchanged.", skiptoken))
}

const skipTokenPrefix = "mint:offset:"

func encodeSkipToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(skipTokenPrefix + strconv.Itoa(offset)))
}

func decodeSkipToken(tok string) (int, bool) {
	// One spelling per token: strict refuses other trailing bits, the decoder skips CR and LF
	// even when strict, and the offset is read back as it was written ("07" and "+7" are not 7).
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || strings.ContainsAny(tok, "\r\n") || !bytes.HasPrefix(raw, []byte(skipTokenPrefix)) {
		return 0, false
	}
	digits := string(raw[len(skipTokenPrefix):])
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || strconv.Itoa(n) != digits {
		return 0, false
	}
	return n, true
}

// NextLink returns the absolute URL of the next page: baseURL (the management endpoint as
// clients reach it, e.g. "https://127.0.0.1:8443" or "https://management.azure.com" behind the
// proxy; never derived from the request's Host) plus the request's path and query, with
// $skiptoken replaced. api-version, $top and $filter are kept as sent.
func NextLink(baseURL string, r *http.Request, skiptoken string) string {
	var q []string
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil && strings.EqualFold(uk, "$skiptoken") {
			continue
		}
		q = append(q, kv)
	}
	q = append(q, "$skiptoken="+url.QueryEscape(skiptoken))
	return strings.TrimRight(baseURL, "/") + r.URL.EscapedPath() + "?" + strings.Join(q, "&")
}

// WriteList answers a list request: reads $skiptoken and $top, writes the page of items in the
// List envelope ("value" is [] when empty) with a nextLink when more pages follow.
func WriteList[T any](w http.ResponseWriter, r *http.Request, baseURL string, items []T) {
	skiptoken, top, e := PageParams(r)
	if e != nil {
		WriteError(w, r, 0, e)
		return
	}
	page, next, e := Page(items, skiptoken, top)
	if e != nil {
		WriteError(w, r, 0, e)
		return
	}
	WritePage(w, r, baseURL, page, next)
}

// ResourcePage reads $skiptoken and $top and lists one page of f's resources from the store,
// in the store's order: at most $top (DefaultPageSize when absent) resources after the cursor
// $skiptoken carries, and the skiptoken of the next page ("" on the last page). The store is
// asked for one more row than the page holds to know whether another page follows, so a page
// costs an index range read however long the list. The caller filters the page (by what the
// caller may read), so pages can be shorter than $top, as ARM's can. A malformed $skiptoken is
// a 400 InvalidSkipToken.
func ResourcePage(ctx context.Context, st store.Resources, r *http.Request, f store.ResourceFilter) (page []store.Resource, next string, err error) {
	return storePage(r, func(after string, limit int) ([]store.Resource, error) {
		f.After, f.Limit = after, limit
		return st.ListResources(ctx, f)
	}, store.ResourceCursor)
}

// storePage reads $skiptoken and $top and lists one page through list (rows after a cursor, at
// most limit): at most $top (DefaultPageSize when absent) items, and the skiptoken of the next
// page, cursor of the page's last item ("" on the last page). It asks list for one more row than
// the page holds to know whether another page follows. A malformed $skiptoken is a 400
// InvalidSkipToken.
func storePage[T any](r *http.Request, list func(after string, limit int) ([]T, error), cursor func(T) string) ([]T, string, error) {
	skiptoken, top, e := PageParams(r)
	if e != nil {
		return nil, "", e
	}
	if top <= 0 {
		top = DefaultPageSize
	}
	items, err := list(skiptoken, top+1)
	if errors.Is(err, store.ErrInvalidCursor) {
		return nil, "", invalidSkipToken(skiptoken)
	}
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > top {
		items = items[:top]
		next = cursor(items[top-1])
	}
	return items, next, nil
}

// WritePage writes one page of a list in the List envelope ("value" is [] when empty), with a
// nextLink carrying skiptoken next unless it is "" (the last page).
func WritePage[T any](w http.ResponseWriter, r *http.Request, baseURL string, page []T, next string) {
	out := List[T]{Value: page}
	if out.Value == nil {
		out.Value = []T{}
	}
	if next != "" {
		out.NextLink = NextLink(baseURL, r, next)
	}
	WriteJSON(w, r, http.StatusOK, out)
}
