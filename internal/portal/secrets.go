package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/armid"
)

// A vault's Secrets: the data plane called with the person's Key Vault token, as the Azure
// portal's browser does. Without a data role (even as Owner) the vault refuses with
// ForbiddenByRbac and the page shows Azure's banner. A value is read only when asked for, and is
// never logged.

// rbacBanner is the Azure portal's warning bar for ForbiddenByRbac.
const rbacBanner = "The operation is not allowed by RBAC. If role assignments were recently changed, please wait several minutes for role assignments to become effective."

type secretRow struct {
	Name, Type, Status, Expires, Updated string
}

type secretsData struct {
	Path     string
	VaultURI string
	Rows     []secretRow
	Banner   string
	Show     string // name of the secret whose value is shown
	Value    string
	Create   bool
	Name     string
	NameErr  string
	// Secret is the secret whose versions are shown (its page), "" on the list.
	Secret   string
	Versions []versionRow
	ShowVer  string // the version whose value is shown
	CSRF     string // for the per-version forms
}

// versionRow is one version on a secret's page (CURRENT VERSION first, then OLDER VERSIONS).
type versionRow struct {
	Version, Status, Created, Activation, Expires string
	Enabled, Current                              bool
	created                                       int64
}

func (p *Portal) secretsBlade(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	c := p.api(s)
	ctx := r.Context()
	d := &secretsData{Path: resourcePath(id.String())}
	pg := page{Title: "Secrets", Blade: newBlade(id, "secrets"), Data: d}
	if !strings.EqualFold(id.ResourceType(), "Microsoft.KeyVault/vaults") {
		pg.Error = &APIError{Code: "NotAVault", Message: "Only key vaults have secrets."}
		p.render(w, r, s, http.StatusNotFound, "secrets", pg)
		return
	}
	var v vaultResource
	if err := c.get(ctx, id, &v); err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "secrets", pg)
		return
	}
	d.VaultURI = strings.TrimSuffix(v.Properties.VaultURI, "/")
	q := r.URL.Query()
	if r.Method == http.MethodPost && r.PostForm.Get("action") == "create" {
		name := strings.TrimSpace(r.PostForm.Get("name"))
		body := map[string]any{"value": r.PostForm.Get("value"), "attributes": map[string]any{"enabled": r.PostForm.Get("enabled") != "no"}}
		if ct := strings.TrimSpace(r.PostForm.Get("contentType")); ct != "" {
			body["contentType"] = ct
		}
		if !validSecretName(name) {
			d.Create, d.Name = true, name
			d.NameErr = "Secret names must be 1 to 127 characters long, start with a letter, and contain only letters, digits and '-'."
			pg.Errors = []fieldError{{Field: "secret-name", Message: d.NameErr}}
			p.render(w, r, s, http.StatusBadRequest, "secrets", pg)
			return
		}
		if _, err := c.do(ctx, ScopeVault, http.MethodPut, d.VaultURI+"/secrets/"+url.PathEscape(name)+"?api-version="+apiKeyVaultData, body, nil); err != nil {
			d.Create, d.Name = true, name
			pg.Error = p.vaultError(err, d)
			p.render(w, r, s, statusOf(err), "secrets", pg)
			return
		}
		redirect(w, r, d.Path+"?view=secrets&created="+url.QueryEscape(name))
		return
	}
	if r.Method == http.MethodPost && r.PostForm.Get("action") == "version" {
		p.toggleVersion(w, r, s, c, d, &pg)
		return
	}
	if name := q.Get("secret"); name != "" && validSecretName(name) {
		p.secretVersions(w, r, s, c, d, &pg, name)
		return
	}
	if n := q.Get("created"); n != "" {
		pg.Notice = "The secret '" + n + "' was created."
	}
	d.Create = q.Get("create") == "1"
	var l struct {
		Value    []secretItem `json:"value"`
		NextLink string       `json:"nextLink"`
	}
	if _, err := c.do(ctx, ScopeVault, http.MethodGet, d.VaultURI+"/secrets?api-version="+apiKeyVaultData+"&maxresults=25", nil, &l); err != nil {
		pg.Error = p.vaultError(err, d)
	}
	for _, it := range l.Value {
		row := secretRow{Name: path.Base(it.ID), Type: it.ContentType, Status: "Enabled"}
		if !it.Attributes.Enabled {
			row.Status = "Disabled"
		}
		if it.Attributes.Exp != nil {
			row.Expires = time.Unix(*it.Attributes.Exp, 0).UTC().Format("2006-01-02 15:04 UTC")
		}
		d.Rows = append(d.Rows, row)
	}
	if show := q.Get("show"); show != "" && validSecretName(show) {
		d.Show = show
		var b secretBundle
		if _, err := c.do(ctx, ScopeVault, http.MethodGet, d.VaultURI+"/secrets/"+url.PathEscape(show)+"?api-version="+apiKeyVaultData, nil, &b); err != nil {
			pg.Error = p.vaultError(err, d)
		} else {
			d.Value = b.Value
		}
	}
	p.render(w, r, s, http.StatusOK, "secrets", pg)
}

// vaultError keeps the API's error and adds the portal's banner for an RBAC refusal.
func (p *Portal) vaultError(err error, d *secretsData) *APIError {
	e := asAPIError(err)
	if e.Status == http.StatusForbidden {
		d.Banner = rbacBanner
	}
	return e
}

// validSecretName: 1-127 characters, letters, digits and '-' (Key Vault's object name rule).
func validSecretName(n string) bool {
	if n == "" || len(n) > 127 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// secretVersions is a secret's page: its versions, newest first, each with its status and dates,
// the value of one shown on request, and Enable/Disable per version (PATCH of the version's
// attributes, which the vault answers with its own 403 when the person may not).
func (p *Portal) secretVersions(w http.ResponseWriter, r *http.Request, s *Session, c *apiClient, d *secretsData, pg *page, name string) {
	ctx := r.Context()
	q := r.URL.Query()
	d.Secret, d.CSRF = name, s.CSRF
	pg.Title = name
	if v := q.Get("saved"); v != "" {
		pg.Notice = "The version " + v + " was " + map[bool]string{true: "enabled", false: "disabled"}[q.Get("enabled") == "true"] + "."
	}
	base := d.VaultURI + "/secrets/" + url.PathEscape(name)
	var items []secretItem
	next := base + "/versions?api-version=" + apiKeyVaultData + "&maxresults=25"
	for range 40 { // at most 1,000 versions
		var l struct {
			Value    []secretItem `json:"value"`
			NextLink string       `json:"nextLink"`
		}
		if _, err := c.do(ctx, ScopeVault, http.MethodGet, next, nil, &l); err != nil {
			pg.Error = p.vaultError(err, d)
			break
		}
		items = append(items, l.Value...)
		if l.NextLink == "" || !strings.HasPrefix(l.NextLink, d.VaultURI+"/") {
			break
		}
		next = l.NextLink
	}
	var current secretBundle
	if pg.Error == nil {
		if _, err := c.do(ctx, ScopeVault, http.MethodGet, base+"?api-version="+apiKeyVaultData, nil, &current); err != nil {
			// The newest version may be disabled (a GET of it is refused): the list still shows it.
			current.ID = ""
		}
	}
	for _, it := range items {
		row := versionRow{Version: path.Base(it.ID), Enabled: it.Attributes.Enabled, Status: "Enabled", Created: unixTime(it.Attributes.Created), created: it.Attributes.Created}
		if !it.Attributes.Enabled {
			row.Status = "Disabled"
		}
		if it.Attributes.Exp != nil {
			row.Expires = unixTime(*it.Attributes.Exp)
		}
		if it.Attributes.Nbf != nil {
			row.Activation = unixTime(*it.Attributes.Nbf)
		}
		row.Current = current.ID != "" && path.Base(current.ID) == row.Version
		d.Versions = append(d.Versions, row)
	}
	sort.SliceStable(d.Versions, func(i, j int) bool {
		if d.Versions[i].Current != d.Versions[j].Current {
			return d.Versions[i].Current
		}
		return d.Versions[i].created > d.Versions[j].created
	})
	if v := q.Get("version"); v != "" && q.Get("show") != "" && validVersion(v) {
		d.ShowVer = v
		var b secretBundle
		if _, err := c.do(ctx, ScopeVault, http.MethodGet, base+"/"+v+"?api-version="+apiKeyVaultData, nil, &b); err != nil {
			pg.Error = p.vaultError(err, d)
		} else {
			d.Value = b.Value
		}
	}
	p.render(w, r, s, statusForPage(*pg), "secrets", *pg)
}

// toggleVersion enables or disables one version.
func (p *Portal) toggleVersion(w http.ResponseWriter, r *http.Request, s *Session, c *apiClient, d *secretsData, pg *page) {
	f := r.PostForm
	name, version, enable := f.Get("secret"), f.Get("version"), f.Get("enabled") == "true"
	if !validSecretName(name) || !validVersion(version) {
		pg.Error = &APIError{Status: http.StatusBadRequest, Code: "BadParameter", Message: "The form names no secret version of this vault."}
		p.render(w, r, s, http.StatusBadRequest, "secrets", *pg)
		return
	}
	body := map[string]any{"attributes": map[string]any{"enabled": enable}}
	target := d.VaultURI + "/secrets/" + url.PathEscape(name) + "/" + version + "?api-version=" + apiKeyVaultData
	if _, err := c.do(r.Context(), ScopeVault, http.MethodPatch, target, body, nil); err != nil {
		pg.Error = p.vaultError(err, d)
		d.Secret, d.CSRF = name, s.CSRF
		p.render(w, r, s, statusOf(err), "secrets", *pg)
		return
	}
	redirect(w, r, d.Path+"?"+url.Values{"view": {"secrets"}, "secret": {name}, "saved": {version}, "enabled": {fmt.Sprint(enable)}}.Encode())
}

// validVersion: a version id is 32 hex digits in Key Vault; mint's are letters and digits too.
func validVersion(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func unixTime(t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(t, 0).UTC().Format("2006-01-02 15:04 UTC")
}
