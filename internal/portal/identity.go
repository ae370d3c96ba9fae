package portal

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mint-id/mint/internal/armid"
)

// A resource's Identity blade: tabs System assigned | User assigned. Turning the system-assigned
// identity on or off and removing user-assigned ones are confirmed first (the consequences are
// spelled out, as Azure's dialog does); every change is one PATCH of the resource's identity
// block with the person's token, so a refusal (AuthorizationFailed, LinkedAuthorizationFailed)
// is the API's.

type confirmation struct {
	Title, Text string
	Hidden      []tagRow // name/value pairs re-posted with confirm=yes
	Yes, No     string   // button labels
	Cancel      string   // href of "No"
}

type uaRow struct {
	ID, Name, ResourceGroup, Subscription, ClientID, PrincipalID string
}

type identityBladeData struct {
	Tab          string
	Path         string
	SystemOn     bool
	PrincipalID  string
	User         []uaRow
	Confirm      *confirmation
	Pane         bool
	PaneSubs     []subscription
	PaneSub      string
	PaneFilter   string
	PaneChoices  []uaRow
	PaneNext     string
	ResourceName string
	// The confirmations portal.js opens before the form is sent (the server asks the same
	// questions itself when the form comes without confirm=yes).
	OnConfirm, OffConfirm, RemoveConfirm *confirmation
}

func (p *Portal) identityBlade(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID) {
	c := p.api(s)
	ctx := r.Context()
	if _, ok := computeAPI[strings.ToLower(id.ResourceType())]; !ok {
		p.render(w, r, s, http.StatusNotFound, "message", page{Title: "Identity", Blade: newBlade(id, "identity"),
			Error: &APIError{Code: "NoIdentity", Message: "A " + shortType(id.ResourceType()) + " has no Identity settings."}})
		return
	}
	q := r.URL.Query()
	d := &identityBladeData{Tab: q.Get("tab"), Path: resourcePath(id.String()), ResourceName: id.Name()}
	d.OnConfirm, d.OffConfirm = systemConfirmation(id, true, d.Path), systemConfirmation(id, false, d.Path)
	d.RemoveConfirm = removeConfirmation(id, d.Path, nil)
	if r.Method == http.MethodPost {
		d.Tab = r.PostForm.Get("tab")
	}
	if d.Tab != "user" {
		d.Tab = "system"
	}
	pg := page{Title: "Identity", Blade: newBlade(id, "identity"), Data: d}
	var res genericResource
	if err := c.get(ctx, id, &res); err != nil {
		pg.Error = asAPIError(err)
		p.render(w, r, s, statusOf(err), "identity", pg)
		return
	}
	cur := currentIdentities(res.Identity)
	if r.Method == http.MethodPost {
		if p.changeIdentity(w, r, s, id, d, &pg, cur) {
			return
		}
	} else if q.Get("saved") != "" {
		pg.Notice = savedNotice(q.Get("saved"))
	}
	d.SystemOn = cur.system
	if res.Identity != nil {
		d.PrincipalID = res.Identity.PrincipalID
	}
	subs, _ := c.subscriptions(ctx)
	for _, ua := range cur.user {
		row := uaRow{ID: ua}
		if uid, err := armid.Parse(ua); err == nil {
			row.Name, row.ResourceGroup, row.Subscription = uid.Name(), uid.ResourceGroup, subscriptionName(subs, uid.SubscriptionID)
		}
		if e, ok := res.Identity.UserAssignedIdentities[ua]; ok {
			row.ClientID, row.PrincipalID = e.ClientID, e.PrincipalID
		}
		d.User = append(d.User, row)
	}
	if d.Tab == "user" && q.Get("pane") == "add" {
		d.Pane = true
		d.PaneSubs = subs
		d.PaneSub = pickSubscription(subs, q.Get("subscription"))
		d.PaneFilter = strings.TrimSpace(q.Get("filter"))
		if d.PaneSub != "" {
			items, next, err := listPage[userAssignedIdentity](ctx, c, "/subscriptions/"+d.PaneSub+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
				versionQ(apiMSI), q.Get("skip"), pageSize)
			if err != nil {
				pg.Error = asAPIError(err)
			}
			for _, it := range items {
				if d.PaneFilter != "" && !strings.Contains(strings.ToLower(it.Name), strings.ToLower(d.PaneFilter)) {
					continue
				}
				if cur.has(it.ID) {
					continue
				}
				uid, _ := armid.Parse(it.ID)
				d.PaneChoices = append(d.PaneChoices, uaRow{ID: it.ID, Name: it.Name, ResourceGroup: uid.ResourceGroup, Subscription: subscriptionName(subs, d.PaneSub)})
			}
			if next != "" {
				d.PaneNext = d.Path + "?" + url.Values{"view": {"identity"}, "tab": {"user"}, "pane": {"add"}, "subscription": {d.PaneSub}, "filter": {d.PaneFilter}, "skip": {next}}.Encode()
			}
		}
	}
	p.render(w, r, s, statusForPage(pg), "identity", pg)
}

func savedNotice(what string) string {
	switch what {
	case "on":
		return "The system assigned managed identity is on. It can now be granted access to resources."
	case "off":
		return "The system assigned managed identity is off. Its service principal was deleted."
	case "added":
		return "The user assigned managed identity was added."
	case "removed":
		return "The user assigned managed identity was removed."
	}
	return "Saved."
}

type identities struct {
	system bool
	user   []string
}

func (i identities) has(id string) bool {
	for _, u := range i.user {
		if strings.EqualFold(u, id) {
			return true
		}
	}
	return false
}

func currentIdentities(b *identityBlock) identities {
	var cur identities
	if b == nil {
		return cur
	}
	cur.system = strings.Contains(strings.ToLower(b.Type), "systemassigned")
	for id := range b.UserAssignedIdentities {
		cur.user = append(cur.user, id)
	}
	sort.Strings(cur.user)
	return cur
}

// identityPatch is the PATCH body that turns cur into system on/off with user-assigned ids
// attached (keep) and detached (drop).
func identityPatch(system bool, keep, drop []string) map[string]any {
	var t []string
	if system {
		t = append(t, "SystemAssigned")
	}
	if len(keep) > 0 {
		t = append(t, "UserAssigned")
	}
	ident := map[string]any{"type": "None"}
	if len(t) > 0 {
		ident["type"] = strings.Join(t, ", ")
	}
	if len(keep) > 0 || len(drop) > 0 {
		ua := map[string]any{}
		for _, k := range keep {
			ua[k] = map[string]any{}
		}
		for _, d := range drop {
			ua[d] = nil
		}
		ident["userAssignedIdentities"] = ua
	}
	return map[string]any{"identity": ident}
}

// changeIdentity handles the blade's POSTs. It returns true when it has answered.
func (p *Portal) changeIdentity(w http.ResponseWriter, r *http.Request, s *Session, id armid.ResourceID, d *identityBladeData, pg *page, cur identities) bool {
	f := r.PostForm
	confirmed := f.Get("confirm") == "yes"
	var body map[string]any
	var saved string
	switch f.Get("action") {
	case "save":
		on := f.Get("status") == "on"
		if on == cur.system {
			pg.Notice = "There are no changes to save."
			return false
		}
		if !confirmed {
			d.Confirm = systemConfirmation(id, on, d.Path)
			return false
		}
		body, saved = identityPatch(on, cur.user, nil), map[bool]string{true: "on", false: "off"}[on]
	case "add":
		ids := f["identity"]
		if len(ids) == 0 {
			pg.Error = &APIError{Code: "NothingSelected", Message: "Select at least one user assigned managed identity to add."}
			d.Tab = "user"
			return false
		}
		keep := append([]string(nil), cur.user...)
		for _, x := range ids {
			if !cur.has(x) {
				keep = append(keep, x)
			}
		}
		body, saved = identityPatch(cur.system, keep, nil), "added"
	case "remove":
		ids := f["identity"]
		if len(ids) == 0 {
			pg.Error = &APIError{Code: "NothingSelected", Message: "Select the user assigned managed identities to remove."}
			d.Tab = "user"
			return false
		}
		if !confirmed {
			d.Confirm = removeConfirmation(id, d.Path, ids)
			d.Tab = "user"
			return false
		}
		var keep, drop []string
		for _, u := range cur.user {
			removed := false
			for _, x := range ids {
				if strings.EqualFold(u, x) {
					removed = true
				}
			}
			if removed {
				drop = append(drop, u)
			} else {
				keep = append(keep, u)
			}
		}
		body, saved = identityPatch(cur.system, keep, drop), "removed"
	default:
		pg.Error = &APIError{Code: "UnknownAction", Message: "The form asked for nothing the Identity page does."}
		return false
	}
	if _, err := p.api(s).arm(r.Context(), http.MethodPatch, id.String(), versionQ(apiVersionFor(id)), body, nil); err != nil {
		pg.Error = asAPIError(err)
		if d.Tab == "" {
			d.Tab = "system"
		}
		// Show the refusal on the blade as it stands (the resource did not change).
		return false
	}
	redirect(w, r, d.Path+"?"+url.Values{"view": {"identity"}, "tab": {d.Tab}, "saved": {saved}}.Encode())
	return true
}

func systemConfirmation(id armid.ResourceID, on bool, path string) *confirmation {
	c := &confirmation{Yes: "Yes", No: "No", Cancel: path + "?view=identity",
		Hidden: []tagRow{{"view", "identity"}, {"tab", "system"}, {"action", "save"}}}
	if on {
		c.Title = "Enable system assigned managed identity"
		c.Text = "'" + id.Name() + "' will be registered with the directory. Once it is registered, it can be granted permissions to access resources protected by the directory. Do you want to enable the system assigned managed identity for '" + id.Name() + "'?"
		c.Hidden = append(c.Hidden, tagRow{"status", "on"})
	} else {
		c.Title = "Disable system assigned managed identity"
		c.Text = "Disabling the system assigned managed identity deletes its service principal: '" + id.Name() + "' can no longer get tokens with it, and its role assignments stay behind as 'Identity not found'. Turning it on again creates a new identity with a new object ID. Do you want to disable it?"
		c.Hidden = append(c.Hidden, tagRow{"status", "off"})
	}
	return c
}

func removeConfirmation(id armid.ResourceID, path string, ids []string) *confirmation {
	hidden := []tagRow{{"view", "identity"}, {"tab", "user"}, {"action", "remove"}}
	for _, x := range ids {
		hidden = append(hidden, tagRow{"identity", x})
	}
	return &confirmation{Title: "Remove user assigned managed identities",
		Text:   "Removing these identities stops " + id.Name() + " from getting tokens for them. Their role assignments stay with the identities. Do you want to remove them?",
		Hidden: hidden, Yes: "Yes", No: "No", Cancel: path + "?view=identity&tab=user"}
}
