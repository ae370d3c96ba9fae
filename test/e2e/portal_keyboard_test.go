package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Keyboard only: a person who cannot use a mouse grants a role through the Add role assignment
// wizard and turns a system-assigned identity on through its confirmation dialog, with Tab,
// Shift+Tab, the arrow keys, Home, End, Space, Enter and Escape. Where the focus is, is read from
// the browser's accessibility tree (the focused node's role and accessible name), as a screen
// reader would announce it.

// focused is the role and accessible name of the focused node.
func focused(ctx context.Context, t *chromedp.Target) (role, name string, err error) {
	res, err := cdp.Call(ctx, t, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		return "", "", err
	}
	str := func(v *accessibility.Value) string {
		var s string
		if v != nil {
			json.Unmarshal(v.Value, &s)
		}
		return s
	}
	for _, n := range res.Nodes {
		for _, p := range n.Properties {
			if p.Name == accessibility.PropertyNameFocused && p.Value != nil && string(p.Value.Value) == "true" && n.Role != nil {
				role, name = str(n.Role), str(n.Name)
			}
		}
	}
	return role, name, nil
}

// wantFocus waits (up to 5 s, for the page's key handlers to run) for the focus to be on
// role/name.
func wantFocus(role, name string) act {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var r, n string
		for range 100 {
			var err error
			if r, n, err = focused(ctx, t); err != nil {
				return chromedp.Void{}, err
			}
			if r == role && n == name {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		return chromedp.Void{}, fmt.Errorf("the focus is on %s %q, want %s %q", r, n, role, name)
	}
}

// key presses one key (with Shift when shift).
func key(k string, shift bool) act {
	if shift {
		return chromedp.KeyEvent(k, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	return chromedp.KeyEvent(k)
}

// tabTo presses Tab until the focus is on role/name (at most 80 times).
func tabTo(role, name string) act {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var seen []string
		for range 80 {
			r, n, err := focused(ctx, t)
			if err != nil {
				return chromedp.Void{}, err
			}
			if r == role && n == name {
				return chromedp.Void{}, nil
			}
			seen = append(seen, r+" "+fmt.Sprintf("%q", n))
			if _, err := key(kb.Tab, false)(ctx, t); err != nil {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, fmt.Errorf("Tab never reached %s %q; it went through %s", role, name, strings.Join(seen, ", "))
	}
}

func TestPortalKeyboardOnly(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.name, func(t *testing.T) { portalKeyboardOnly(t, st) })
	}
}

func portalKeyboardOnly(t *testing.T, st storeKind) {
	m := startMint(t, options{store: st.url(t)})
	dev := readDeveloper(t, m)
	shots := portalShots(t, "keyboard-"+st.name)
	m.mustCLI("group", "create", "-n", "app", "-l", "eastus")
	m.mustCLI("identity", "create", "-g", "app", "-n", "web-id")
	var app, kv struct{ ID string }
	mustJSON(t, m.mustCLI("resource", "create", "--type", "Microsoft.App/containerApps", "-g", "app", "-n", "web"), &app)
	mustJSON(t, m.mustCLI("keyvault", "create", "-n", "kv1", "-g", "app"), &kv)

	b := newPortalBrowser(t, m, shots)
	b.signIn(m.URL, dev.UserPrincipalName, dev.Password)

	// The Identity blade: one tab stop for the tabs, arrows/Home/End move between them.
	b.run("open the Identity blade", chromedp.Navigate(m.URL+"/portal/resource"+app.ID+"?view=identity"), waitRole("tab", "System assigned"))
	b.run("tabs by keyboard", tabTo("tab", "System assigned"),
		key(kb.ArrowRight, false), wantFocus("tab", "User assigned"),
		key(kb.ArrowRight, false), wantFocus("tab", "System assigned"),
		key(kb.End, false), wantFocus("tab", "User assigned"),
		key(kb.Home, false), wantFocus("tab", "System assigned"),
		key(kb.ArrowLeft, false), wantFocus("tab", "User assigned"),
		key(kb.ArrowRight, false), wantFocus("tab", "System assigned"),
		// Tab leaves the tab list (the other tab is not a stop of its own) for the panel.
		key(kb.Tab, false), wantFocus("radio", "Off"))
	// Status On (arrow in the radio group), Save, the modal dialog with the focus on No;
	// Escape returns the focus to Save; again, Shift+Tab to Yes, Enter.
	b.run("system assigned on", key(kb.ArrowRight, false), wantFocus("radio", "On"), tabTo("button", "Save"), key(kb.Enter, false),
		waitRole("alertdialog", "Enable system assigned managed identity"), wantFocus("button", "No"))
	b.shot("keyboard-confirm")
	var dialogs int
	b.run("escape returns the focus", key(kb.Escape, false), wantFocus("button", "Save"),
		into(&dialogs, chromedp.Evaluate[int](`document.querySelectorAll("dialog[open]").length`)))
	if dialogs != 0 {
		t.Fatalf("%d dialogs still open after Escape", dialogs)
	}
	b.run("confirm with the keyboard", key(kb.Enter, false), waitRole("alertdialog", "Enable system assigned managed identity"), wantFocus("button", "No"),
		key(kb.Tab, true), wantFocus("button", "Yes"),
		// The focus stays in the modal dialog: Shift+Tab from Yes does not reach the page behind it
		// (Chromium moves it to its own window, outside the document, as for any modal dialog).
		key(kb.Tab, true), func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			r, n, err := focused(ctx, tg)
			if err == nil && !(r == "button" && (n == "Yes" || n == "No")) && r != "" && r != "alertdialog" && r != "RootWebArea" {
				err = fmt.Errorf("Shift+Tab left the modal dialog for %s %q", r, n)
			}
			return chromedp.Void{}, err
		})
	b.run("yes", tabTo("button", "Yes"), key(kb.Enter, false),
		waitText("status", "The system assigned managed identity is on. It can now be granted access to resources."))
	b.shot("keyboard-system-on")

	// The Add role assignment wizard on the vault, keys only.
	b.run("open the vault's IAM", chromedp.Navigate(m.URL+"/portal/resource"+kv.ID+"?view=iam"), waitRole("tab", "Role assignments"))
	b.run("+ Add role assignment", tabTo("link", "+ Add role assignment"), key(kb.Enter, false), waitRole("searchbox", "Search by role name or description"))
	b.run("search the role", tabTo("searchbox", "Search by role name or description"), chromedp.KeyEvent("Key Vault Secrets User"), key(kb.Enter, false),
		waitRole("radio", "Key Vault Secrets User"))
	b.run("pick the role", tabTo("radio", "Key Vault Secrets User"), key(" ", false), tabTo("button", "Next"), key(kb.Enter, false),
		waitRole("radio", "Managed identity"))
	b.run("members: Managed identity", tabTo("radio", "User, group, or service principal"), key(kb.ArrowRight, false), wantFocus("radio", "Managed identity"),
		tabTo("button", "+ Select members"), key(kb.Enter, false), waitRole("region", "Select managed identities"))
	b.run("select web-id", tabTo("checkbox", "web-id"), key(" ", false), tabTo("button", "Select"), key(kb.Enter, false), waitRole("rowheader", "web-id"))
	b.shot("keyboard-members")
	b.run("review", tabTo("button", "Review + assign"), key(kb.Enter, false), waitRole("tab", "Review + assign"), waitRole("rowheader", "web-id"))
	b.run("assign", tabTo("button", "Review + assign"), key(kb.Enter, false),
		waitText("status", "Added role assignment: Key Vault Secrets User. It is effective now; tokens issued before it are checked against it on their next use."))
	b.shot("keyboard-assigned")
	var grid string
	b.run("grid", textOf("table", "Role assignments", &grid))
	if !strings.Contains(grid, "Key Vault Secrets User (1)") || !strings.Contains(grid, "web-id") {
		t.Fatalf("the grid after the keyboard-only wizard:\n%s", grid)
	}
}
