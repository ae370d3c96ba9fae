// Package portal is mint's web portal: server-rendered pages over the same ARM, Graph and Key
// Vault handlers every other client uses, signed in as a person. The portal's server is a
// confidential client of mint's own STS (authorization code + PKCE, server side); the browser
// holds only an opaque session cookie, and every read and write is an API call made with the
// signed-in user's own bearer token, so what a person sees and may do is exactly what the APIs
// allow and a refusal shows the API's own message. The portal has no store access beyond its own
// browser sessions (sealed, see session.go) and no privileged path: it is not an authorization
// decision point.
//
// Pages work without JavaScript (html/template, embedded assets, no CDN); a small script only
// adds copy buttons, keyboard tabs and modal confirmation dialogs. The screens follow the flow and words of the Azure portal for managed
// identities, identity blades and access control, not its pixels.
package portal

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the portal is served.
const Prefix = "/portal/"

// Config configures the portal.
type Config struct {
	// BaseURL is mint's public base URL (the authority host and the management endpoint), without
	// a trailing slash. The portal is served at BaseURL + "/portal/".
	BaseURL string
	// TenantID is the directory people sign in to.
	TenantID string
	// ClientID and ClientSecret are the portal's own application registration (see Register).
	ClientID, ClientSecret string
	// API is mint's whole HTTP handler (STS, ARM, Graph and the vault hosts). The portal calls it
	// in-process with the signed-in user's token, exactly as a remote client would over TLS.
	API http.Handler
	// SessionLifetime bounds a browser session (default 8 hours).
	SessionLifetime time.Duration
	// Sessions and Sealer, when set, keep sessions in mint's store, sealed (see session.go).
	Sessions SessionStore
	Sealer   Sealer
	Logger   *slog.Logger
	Clock    func() time.Time

	// ManagedIdentityTokenLifetime is the STS's managed-identity token lifetime (default 24
	// hours): the token pages compute when an issued token expires with it.
	ManagedIdentityTokenLifetime time.Duration
}

// Portal serves the web portal.
type Portal struct {
	cfg      Config
	log      *slog.Logger
	sessions *sessions
	pending  *pendingSignIns
	pages    map[string]*template.Template
	mux      *http.ServeMux
	handler  http.Handler
	reg      atomic.Pointer[registration]
}

// registration is the portal's client registration in the directory people sign in to.
type registration struct{ TenantID, ClientID, ClientSecret string }

// SetClient sets the directory and the portal's own application registration (see Register);
// until it is set, sign-in answers that the portal is not registered.
func (p *Portal) SetClient(tenantID, clientID, clientSecret string) {
	p.reg.Store(&registration{TenantID: tenantID, ClientID: clientID, ClientSecret: clientSecret})
}

// Registered reports whether appID in tenantID is the portal's own application.
func (p *Portal) Registered(tenantID, appID string) bool {
	r := p.client()
	return r.ClientID != "" && strings.EqualFold(r.ClientID, appID) && strings.EqualFold(r.TenantID, tenantID)
}

func (p *Portal) client() registration {
	if r := p.reg.Load(); r != nil {
		return *r
	}
	return registration{}
}

// New builds the portal.
func New(cfg Config) (*Portal, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 8 * time.Hour
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.API == nil {
		return nil, errors.New("portal: the API handler is required")
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	p := &Portal{
		cfg: cfg, log: cfg.Logger, pages: pages,
		sessions: newSessions(cfg.Clock, cfg.SessionLifetime),
		pending:  newPendingSignIns(cfg.Clock),
	}
	if cfg.ClientID != "" {
		p.SetClient(cfg.TenantID, cfg.ClientID, cfg.ClientSecret)
	}
	p.sessions.log = cfg.Logger
	if cfg.Sessions != nil {
		if cfg.Sealer == nil {
			return nil, errors.New("portal: a session store needs a sealer")
		}
		p.sessions.st, p.sessions.sealer = cfg.Sessions, cfg.Sealer
		p.sessions.restore = func(refresh string) Tokens {
			return &refreshTokens{p: p, refresh: refresh, cache: map[string]cachedToken{}}
		}
	}
	p.routes()
	return p, nil
}

// ServeHTTP serves every path under /portal/.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

func (p *Portal) routes() {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /portal/static/", http.StripPrefix("/portal/static/", http.FileServer(http.FS(static))))
	mux.HandleFunc("GET /portal/signin", p.signIn)
	mux.HandleFunc("GET /portal/signin-oidc", p.signInCallback)
	mux.HandleFunc("POST /portal/signout", p.signOut)
	mux.HandleFunc("GET /portal/{$}", p.authed(p.home))
	mux.HandleFunc("GET /portal/search", p.authed(p.search))
	mux.HandleFunc("GET /portal/identities", p.authed(p.identities))
	mux.HandleFunc("GET /portal/identities/create", p.authed(p.createIdentity))
	mux.HandleFunc("POST /portal/identities/create", p.authed(p.createIdentity))
	mux.HandleFunc("GET /portal/deployment", p.authed(p.deployment))
	mux.HandleFunc("GET /portal/resourcegroups", p.authed(p.resourceGroups))
	mux.HandleFunc("GET /portal/resources", p.authed(p.resources))
	mux.HandleFunc("GET /portal/checkaccess", p.authed(p.checkAccessHome))
	mux.HandleFunc("GET /portal/signins", p.authed(p.signInLogs))
	mux.HandleFunc("GET /portal/activitylog", p.authed(p.activityLogService))
	mux.HandleFunc("GET /portal/resource/{id...}", p.authed(p.resource))
	mux.HandleFunc("POST /portal/resource/{id...}", p.authed(p.resource))
	mux.HandleFunc("/portal/", p.notFound)
	p.mux = mux
	// Cross-origin POSTs (a form on another site) are refused before any handler runs, by the
	// browser's Sec-Fetch-Site or Origin header; the per-session CSRF token is checked as well.
	cop := http.NewCrossOriginProtection()
	p.handler = p.securityHeaders(cop.Handler(mux))
}

// securityHeaders sets the headers every portal response carries: a Content-Security-Policy
// without inline script or style and without framing, no MIME sniffing, no referrer off the
// page, and no caching of pages that show a person's data.
func (p *Portal) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/portal/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// authed runs h with the request's session, or shows the sign-in page when there is none. A
// state-changing request must carry the session's CSRF token.
func (p *Portal) authed(h func(w http.ResponseWriter, r *http.Request, s *Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := p.sessions.fromRequest(r)
		if err != nil {
			p.storeUnavailable(w, r, err)
			return
		}
		if s == nil {
			p.sessions.clearCookie(w)
			if r.Method != http.MethodGet {
				p.render(w, r, nil, http.StatusUnauthorized, "signedout", page{Title: "Sign in",
					Error: &APIError{Code: "SessionExpired", Message: "Your session has ended. Sign in again; nothing was changed."}})
				return
			}
			p.render(w, r, nil, http.StatusOK, "signedout", page{Title: "Sign in", Data: map[string]string{"Return": r.URL.RequestURI()}})
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil || !s.validCSRF(r.PostForm.Get("csrf")) {
				p.render(w, r, s, http.StatusForbidden, "message", page{Title: "Request refused",
					Error: &APIError{Code: "InvalidCsrfToken", Message: "The form was not sent from this portal session (its anti-forgery token is missing or wrong), so nothing was changed. Reload the page and try again."}})
				return
			}
		}
		h(w, r, s)
	}
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	s, _ := p.sessions.fromRequest(r)
	p.render(w, r, s, http.StatusNotFound, "message", page{Title: "Not found",
		Error: &APIError{Code: "NotFound", Message: "There is no portal page at " + r.URL.Path + "."}})
}

// page is what every template gets.
type page struct {
	Title  string
	User   *User
	CSRF   string
	Query  string
	Nav    string // the portal menu entry that is current
	Error  *APIError
	Errors []fieldError // per-field errors, summarised on top
	Notice string
	Blade  *blade
	Data   any
}

// render writes the named page inside the layout.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, s *Session, status int, name string, pg page) {
	t, ok := p.pages[name]
	if !ok {
		p.log.Error("portal page missing", "page", name)
		http.Error(w, "page missing", http.StatusInternalServerError)
		return
	}
	if s != nil {
		u := s.User
		pg.User, pg.CSRF = &u, s.CSRF
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", pg); err != nil {
		p.log.Error("portal page failed", "page", name, "err", err)
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// redirect answers a POST with 303 to a portal path (never anywhere else).
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	if !strings.HasPrefix(path, Prefix) {
		path = Prefix
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

var funcs = template.FuncMap{
	"resourcePath":  resourcePath,
	"shortType":     shortType,
	"query":         func(v url.Values) string { return v.Encode() },
	"add":           func(a, b int) int { return a + b },
	"hasKey":        func(m map[string]bool, k string) bool { return m[k] },
	"lower":         strings.ToLower,
	"commonActions": func() []string { return commonActions },
	"roleCategory":  roleCategory,
	"confirmArgs": func(c *confirmation, path, csrf string) map[string]any {
		return map[string]any{"Confirm": c, "Path": path, "CSRF": csrf}
	},
	"dialogArgs": func(id string, c *confirmation) map[string]any { return map[string]any{"ID": id, "Confirm": c} },
	"fmtTime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("portal layout: %w", err)
	}
	entries, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, e)
		if err != nil {
			return nil, fmt.Errorf("portal page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// resourcePath is the portal page of an ARM resource id.
func resourcePath(id string) string {
	return "/portal/resource" + (&url.URL{Path: id}).EscapedPath()
}

// shortType names a resource type the way the portal's lists do.
func shortType(t string) string {
	if n, ok := typeNames[strings.ToLower(t)]; ok {
		return n
	}
	return t
}

var typeNames = map[string]string{
	"microsoft.managedidentity/userassignedidentities": "Managed Identity",
	"microsoft.app/containerapps":                      "Container App",
	"microsoft.web/sites":                              "App Service",
	"microsoft.web/sites/slots":                        "App Service (Slot)",
	"microsoft.compute/virtualmachines":                "Virtual machine",
	"microsoft.containerinstance/containergroups":      "Container instances",
	"microsoft.keyvault/vaults":                        "Key vault",
	"microsoft.resources/resourcegroups":               "Resource group",
	"microsoft.resources/subscriptions":                "Subscription",
}
