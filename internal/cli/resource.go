package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/server"
)

// This file holds what the management-endpoint commands (group, identity, resource) share, and
// `mint resource`: compute-like resources and their identity blocks, like `az resource` and
// `az vm identity`.

// API versions the CLI sends, per type (lower case).
const (
	resourcesAPIVersion = "2021-04-01"
	msiAPIVersion       = "2024-11-30"
)

var resourceAPIVersions = map[string]string{
	"microsoft.app/containerapps":                      "2024-03-01",
	"microsoft.web/sites":                              "2023-12-01",
	"microsoft.web/sites/slots":                        "2023-12-01",
	"microsoft.compute/virtualmachines":                "2024-07-01",
	"microsoft.containerinstance/containergroups":      "2023-05-01",
	"microsoft.managedidentity/userassignedidentities": msiAPIVersion,
}

// knownTypes lists the types `mint resource` serves, for messages.
func knownTypes() string {
	return "Microsoft.App/containerApps, Microsoft.Web/sites, Microsoft.Web/sites/slots, Microsoft.Compute/virtualMachines, Microsoft.ContainerInstance/containerGroups"
}

// armFlags are the flags every management command shares.
type armFlags struct {
	subscription string
}

func (a *armFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.subscription, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID, else the only subscription you can see)")
}

// subscriptionID resolves the subscription: --subscription, AZURE_SUBSCRIPTION_ID from the env
// file or the environment, else the only subscription the caller can see.
func (a *armFlags) subscriptionID(ctx context.Context, c *apiClient, f *clientFlags) (string, error) {
	if a.subscription != "" {
		return a.subscription, nil
	}
	file := f.envFile
	if file == "" && os.Getenv("MINT_ENDPOINT") == "" && os.Getenv("MINT_DATA_DIR") != "" {
		file = filepath.Join(os.Getenv("MINT_DATA_DIR"), "env")
	}
	if file != "" {
		if vars, err := server.ParseEnvFile(file); err == nil && vars["AZURE_SUBSCRIPTION_ID"] != "" {
			a.subscription = vars["AZURE_SUBSCRIPTION_ID"]
			return a.subscription, nil
		}
	}
	if s := os.Getenv("AZURE_SUBSCRIPTION_ID"); s != "" {
		a.subscription = s
		return s, nil
	}
	subs, err := c.list(ctx, "/subscriptions", resourcesAPIVersion)
	if err != nil {
		return "", err
	}
	if len(subs) != 1 {
		return "", fmt.Errorf("%d subscriptions are visible; say which with --subscription or AZURE_SUBSCRIPTION_ID", len(subs))
	}
	a.subscription, _ = subs[0]["subscriptionId"].(string)
	return a.subscription, nil
}

// withAPIVersion appends ?api-version= to a path.
func withAPIVersion(path, apiVersion string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "api-version=" + url.QueryEscape(apiVersion)
}

// arm sends a management request.
func (c *apiClient) arm(ctx context.Context, method, path, apiVersion string, body, out any) error {
	return c.do(ctx, managementScope, method, withAPIVersion(path, apiVersion), body, out)
}

// list reads every page of an ARM list.
func (c *apiClient) list(ctx context.Context, path, apiVersion string) ([]map[string]any, error) {
	var all []map[string]any
	next := withAPIVersion(path, apiVersion)
	for pages := 0; next != ""; pages++ {
		if pages > 1000 {
			return nil, errors.New("the list does not end")
		}
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"nextLink"`
		}
		if err := c.do(ctx, managementScope, http.MethodGet, next, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Value...)
		next = ""
		if page.NextLink != "" {
			u, err := url.Parse(page.NextLink)
			if err != nil {
				return nil, fmt.Errorf("bad nextLink %q: %w", page.NextLink, err)
			}
			next = u.RequestURI()
		}
	}
	if all == nil {
		all = []map[string]any{}
	}
	return all, nil
}

func groupPath(sub, group string) string {
	return "/subscriptions/" + url.PathEscape(sub) + "/resourceGroups/" + url.PathEscape(group)
}

// groupLocation is the location of a group, the default location of what is created in it.
func (c *apiClient) groupLocation(ctx context.Context, sub, group string) (string, error) {
	var g struct {
		Location string `json:"location"`
	}
	if err := c.arm(ctx, http.MethodGet, groupPath(sub, group), resourcesAPIVersion, nil, &g); err != nil {
		return "", err
	}
	return g.Location, nil
}

// withResourceGroup adds resourceGroup (from the id), as az does.
// listInScope lists <scope><suffix> where scope is the subscription or, when group is set, that
// group, and shapes each item for printing (flatten, withResourceGroup).
func (c *apiClient) listInScope(ctx context.Context, sub, group, suffix, apiVersion string, shape func(map[string]any) map[string]any) ([]map[string]any, error) {
	scope := "/subscriptions/" + url.PathEscape(sub)
	if group != "" {
		scope = groupPath(sub, group)
	}
	out, err := c.list(ctx, scope+suffix, apiVersion)
	if err != nil {
		return nil, err
	}
	for _, m := range out {
		shape(m)
	}
	return out, nil
}

func withResourceGroup(m map[string]any) map[string]any {
	if id, ok := m["id"].(string); ok {
		if p, err := armid.Parse(id); err == nil && p.ResourceGroup != "" {
			m["resourceGroup"] = p.ResourceGroup
		}
	}
	return m
}

// flatten lifts properties to the top level and adds resourceGroup, as az shows identities and
// federated credentials.
func flatten(m map[string]any) map[string]any {
	if props, ok := m["properties"].(map[string]any); ok {
		delete(m, "properties")
		for k, v := range props {
			if _, taken := m[k]; !taken {
				m[k] = v
			}
		}
	}
	return withResourceGroup(m)
}

// parseTags reads "key=value" (or "key", an empty value) arguments.
func parseTags(args []string) (map[string]string, error) {
	if args == nil {
		return nil, nil
	}
	tags := map[string]string{}
	for _, a := range args {
		if a == "" || a == `""` {
			continue // --tags "" clears the tags, as in az
		}
		k, v, _ := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("tag %q has no name; use key=value", a)
		}
		tags[k] = v
	}
	return tags, nil
}

// confirm asks before a destructive operation unless yes is set.
func confirm(cmd *cobra.Command, yes bool, what string) error {
	if yes {
		return nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s\nAre you sure you want to perform this operation? (y/n): ", what)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a == "y" || a == "yes" {
		return nil
	}
	return errors.New("operation cancelled (pass --yes to skip the question)")
}

// resourceRef names a resource: --ids, or --type, -g and -n (child types take "parent/child").
type resourceRef struct {
	id, resourceType, group, name, apiVersion string
}

func (r *resourceRef) register(cmd *cobra.Command, withIDs bool) {
	cmd.Flags().StringVar(&r.resourceType, "type", "", "resource type, e.g. Microsoft.App/containerApps ("+knownTypes()+")")
	cmd.Flags().StringVarP(&r.group, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVarP(&r.name, "name", "n", "", "resource name (\"<site>/<slot>\" for a slot)")
	cmd.Flags().StringVar(&r.apiVersion, "api-version", "", "api-version to send (default: one mint knows for the type)")
	if withIDs {
		cmd.Flags().StringVar(&r.id, "ids", "", "full resource id, instead of --type, -g and -n")
	}
}

// resolve returns the resource id and the api-version to use.
func (r *resourceRef) resolve(sub string) (armid.ResourceID, string, error) {
	var id armid.ResourceID
	if r.id != "" {
		p, err := armid.Parse(r.id)
		if err != nil {
			return id, "", err
		}
		if !p.IsResource() {
			return id, "", fmt.Errorf("--ids %q does not name a resource", r.id)
		}
		id = p
	} else {
		if r.resourceType == "" || r.group == "" || r.name == "" {
			return id, "", errors.New("name the resource with --type, --resource-group and --name, or with --ids")
		}
		parts := strings.Split(r.resourceType, "/")
		names := strings.Split(r.name, "/")
		if len(parts) < 2 || len(parts)-1 != len(names) {
			return id, "", fmt.Errorf("type %s needs %d name(s) separated by '/', not %q", r.resourceType, len(parts)-1, r.name)
		}
		id = armid.ResourceGroupID(sub, r.group).Extension(parts[0], parts[1], names[0])
		for i, t := range parts[2:] {
			id = id.Child(t, names[i+1])
		}
	}
	v := r.apiVersion
	if v == "" {
		v = resourceAPIVersions[strings.ToLower(id.ResourceType())]
	}
	if v == "" {
		return id, "", fmt.Errorf("mint knows no api-version for %s; it serves %s (or pass --api-version)", id.ResourceType(), knownTypes())
	}
	return id, v, nil
}

// escapedPath is the id as a URL path, each segment escaped.
func escapedPath(id armid.ResourceID) string {
	segs := strings.Split(strings.TrimPrefix(id.String(), "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/" + strings.Join(segs, "/")
}

// identityRef turns a --user-assigned value into an identity id: full ids as they are, names as
// identities in the group.
func identityRef(sub, group, v string) (string, error) {
	if strings.HasPrefix(v, "/") {
		id, err := armid.ParseUserAssignedIdentityID(v)
		if err != nil {
			return "", err
		}
		return id.String(), nil
	}
	if group == "" {
		return "", fmt.Errorf("identity %q: give its full id, or -g for an identity in the resource's group", v)
	}
	return armid.ResourceGroupID(sub, group).Extension(armid.ManagedIdentityNamespace, armid.UserAssignedIdentitiesType, v).String(), nil
}

// splitIdentities separates "[system]" from user-assigned identity names or ids.
func splitIdentities(args []string) (system bool, user []string) {
	for _, a := range args {
		for _, v := range strings.Split(a, ",") {
			switch v = strings.TrimSpace(v); {
			case v == "":
			case strings.EqualFold(v, "[system]"):
				system = true
			default:
				user = append(user, v)
			}
		}
	}
	return system, user
}

// identityType is the wire type for a combination.
func identityType(system bool, userCount int) string {
	switch {
	case system && userCount > 0:
		return "SystemAssigned,UserAssigned"
	case system:
		return "SystemAssigned"
	case userCount > 0:
		return "UserAssigned"
	}
	return "None"
}

var resourceColumns = []column{{"Name", "name"}, {"ResourceGroup", "resourceGroup"}, {"Location", "location"}, {"Type", "type"}}

func newResourceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "resource", Short: "Manage resources that run workloads and carry managed identities (like az resource)"}
	cmd.AddCommand(newResourceCreateCmd(), newResourceShowCmd(), newResourceListCmd(), newResourceDeleteCmd(), newResourceIdentityCmd())
	return cmd
}

func newResourceCreateCmd() *cobra.Command {
	var a armFlags
	var ref resourceRef
	var location, properties string
	var tags, userAssigned, assign []string
	var systemAssigned bool
	return clientCommand("create", "Create or replace a resource, optionally with managed identities", func(cmd *cobra.Command) {
		a.register(cmd)
		ref.register(cmd, false)
		cmd.Flags().StringVarP(&location, "location", "l", "", "location (default: the group's)")
		cmd.Flags().StringVarP(&properties, "properties", "p", "", "the resource's properties as a JSON object")
		cmd.Flags().StringArrayVar(&tags, "tags", nil, "tag key=value (repeatable)")
		cmd.Flags().BoolVar(&systemAssigned, "system-assigned", false, "enable the system-assigned identity")
		cmd.Flags().StringSliceVar(&userAssigned, "user-assigned", nil, "user-assigned identities to attach: names in the group, or full ids")
		cmd.Flags().StringSliceVar(&assign, "assign-identity", nil, "identities to assign: '[system]' and/or user-assigned names or ids")
		cmd.MarkFlagRequired("type")
		cmd.MarkFlagRequired("resource-group")
		cmd.MarkFlagRequired("name")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		id, v, err := ref.resolve(sub)
		if err != nil {
			return err
		}
		body := map[string]any{}
		if location == "" {
			if location, err = c.groupLocation(ctx, sub, ref.group); err != nil {
				return err
			}
		}
		body["location"] = location
		if properties != "" {
			var p map[string]any
			if err := json.Unmarshal([]byte(properties), &p); err != nil {
				return fmt.Errorf("--properties is not a JSON object: %w", err)
			}
			body["properties"] = p
		}
		if t, err := parseTags(tags); err != nil {
			return err
		} else if t != nil {
			body["tags"] = t
		}
		sys, names := splitIdentities(assign)
		sys = sys || systemAssigned
		names = append(names, userAssigned...)
		if sys || len(names) > 0 {
			ident := map[string]any{"type": identityType(sys, len(names))}
			if len(names) > 0 {
				ua := map[string]any{}
				for _, n := range names {
					uid, err := identityRef(sub, ref.group, n)
					if err != nil {
						return err
					}
					ua[uid] = map[string]any{}
				}
				ident["userAssignedIdentities"] = ua
			}
			body["identity"] = ident
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPut, escapedPath(id), v, body, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, withResourceGroup(out), resourceColumns)
	})
}

func newResourceShowCmd() *cobra.Command {
	var a armFlags
	var ref resourceRef
	return clientCommand("show", "Show a resource", func(cmd *cobra.Command) {
		a.register(cmd)
		ref.register(cmd, true)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		out, err := getResource(ctx, c, f, &a, &ref)
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, withResourceGroup(out), resourceColumns)
	})
}

func getResource(ctx context.Context, c *apiClient, f *clientFlags, a *armFlags, ref *resourceRef) (map[string]any, error) {
	sub, err := a.subscriptionID(ctx, c, f)
	if err != nil {
		return nil, err
	}
	id, v, err := ref.resolve(sub)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := c.arm(ctx, http.MethodGet, escapedPath(id), v, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func newResourceListCmd() *cobra.Command {
	var a armFlags
	var group, resourceType string
	return clientCommand("list", "List resources in the subscription or a group", func(cmd *cobra.Command) {
		a.register(cmd)
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "list only this group's resources")
		cmd.Flags().StringVar(&resourceType, "resource-type", "", "list only resources of this type")
		cmd.Flags().StringVar(&resourceType, "type", "", "alias of --resource-type")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		suffix := "/resources"
		if resourceType != "" {
			suffix += "?$filter=" + url.QueryEscape("resourceType eq '"+strings.ReplaceAll(resourceType, "'", "''")+"'")
		}
		out, err := c.listInScope(ctx, sub, group, suffix, resourcesAPIVersion, withResourceGroup)
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, out, resourceColumns)
	})
}

func newResourceDeleteCmd() *cobra.Command {
	var a armFlags
	var ref resourceRef
	var yes bool
	return clientCommand("delete", "Delete a resource (and its system-assigned identity)", func(cmd *cobra.Command) {
		a.register(cmd)
		ref.register(cmd, true)
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "accepted for compatibility: like az resource delete, this does not ask")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := a.subscriptionID(ctx, c, f)
		if err != nil {
			return err
		}
		id, v, err := ref.resolve(sub)
		if err != nil {
			return err
		}
		return c.arm(ctx, http.MethodDelete, escapedPath(id), v, nil, nil)
	})
}

func newResourceIdentityCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Manage a resource's managed identities (like az vm identity)"}
	cmd.AddCommand(newResourceIdentityAssignCmd(), newResourceIdentityRemoveCmd(), newResourceIdentityShowCmd())
	return cmd
}

// currentIdentities reads a resource's identity block: whether the system-assigned identity is
// on and the user-assigned identity ids.
func currentIdentities(res map[string]any) (system bool, user []string) {
	ident, _ := res["identity"].(map[string]any)
	t, _ := ident["type"].(string)
	system = strings.Contains(strings.ToLower(t), "systemassigned")
	ua, _ := ident["userAssignedIdentities"].(map[string]any)
	for id := range ua {
		user = append(user, id)
	}
	sort.Strings(user)
	return system, user
}

// identityInfo is az's summary of an identity change.
func identityInfo(res map[string]any) map[string]any {
	ident, _ := res["identity"].(map[string]any)
	principal, _ := ident["principalId"].(string)
	ua, _ := ident["userAssignedIdentities"].(map[string]any)
	if ua == nil {
		ua = map[string]any{}
	}
	return map[string]any{"systemAssignedIdentity": principal, "userAssignedIdentities": ua}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func identityRefs(sub, group string, names []string) ([]string, error) {
	var ids []string
	for _, n := range names {
		id, err := identityRef(sub, group, n)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// sameIdentity compares identity ids as ARM does: ignoring case.
func sameIdentity(a, b string) bool {
	pa, errA := armid.Parse(a)
	pb, errB := armid.Parse(b)
	if errA == nil && errB == nil {
		return pa.Equal(pb)
	}
	return strings.EqualFold(a, b)
}

// identityChange is the identities resource identity assign and remove name: --identities,
// --system-assigned and --user-assigned.
type identityChange struct {
	identities, userAssigned []string
	systemAssigned           bool
}

func (ic *identityChange) register(cmd *cobra.Command, enable, attach string) {
	cmd.Flags().StringSliceVar(&ic.identities, "identities", nil, "'[system]' and/or user-assigned identity names or ids (default [system])")
	cmd.Flags().BoolVar(&ic.systemAssigned, "system-assigned", false, enable+" the system-assigned identity")
	cmd.Flags().StringSliceVar(&ic.userAssigned, "user-assigned", nil, "user-assigned identity names or ids to "+attach)
}

// resolve says whether the system-assigned identity is named (it is when nothing is) and gives
// the ids of the user-assigned identities named.
func (ic *identityChange) resolve(subscription, group string) (system bool, user []string, err error) {
	system, names := splitIdentities(ic.identities)
	names = append(names, ic.userAssigned...)
	system = system || ic.systemAssigned || len(names) == 0
	user, err = identityRefs(subscription, group, names)
	return system, user, err
}

func newResourceIdentityAssignCmd() *cobra.Command {
	var a armFlags
	var ref resourceRef
	var ic identityChange
	return clientCommand("assign", "Enable the system-assigned identity and/or attach user-assigned identities", func(cmd *cobra.Command) {
		a.register(cmd)
		ref.register(cmd, true)
		ic.register(cmd, "enable", "attach")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		res, err := getResource(ctx, c, f, &a, &ref)
		if err != nil {
			return err
		}
		id, v, _ := ref.resolve(a.subscription)
		wantSystem, add, err := ic.resolve(a.subscription, id.ResourceGroup)
		if err != nil {
			return err
		}
		system, user := currentIdentities(res)
		system = system || wantSystem
		ua := map[string]any{}
		for _, u := range add {
			ua[u] = map[string]any{}
		}
		all := append([]string{}, user...)
		for _, u := range add {
			found := false
			for _, x := range all {
				found = found || sameIdentity(x, u)
			}
			if !found {
				all = append(all, u)
			}
		}
		ident := map[string]any{"type": identityType(system, len(all))}
		if len(ua) > 0 {
			ident["userAssignedIdentities"] = ua
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPatch, escapedPath(id), v, map[string]any{"identity": ident}, &out); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, identityInfo(out), []column{{"SystemAssignedIdentity", "systemAssignedIdentity"}, {"UserAssignedIdentities", "userAssignedIdentities"}})
	})
}

func newResourceIdentityRemoveCmd() *cobra.Command {
	var a armFlags
	var ref resourceRef
	var ic identityChange
	return clientCommand("remove", "Disable the system-assigned identity and/or detach user-assigned identities", func(cmd *cobra.Command) {
		a.register(cmd)
		ref.register(cmd, true)
		ic.register(cmd, "disable", "detach")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		res, err := getResource(ctx, c, f, &a, &ref)
		if err != nil {
			return err
		}
		id, v, _ := ref.resolve(a.subscription)
		dropSystem, drop, err := ic.resolve(a.subscription, id.ResourceGroup)
		if err != nil {
			return err
		}
		system, user := currentIdentities(res)
		for _, d := range drop {
			found := false
			for _, u := range user {
				found = found || sameIdentity(u, d)
			}
			if !found {
				return fmt.Errorf("identity %s is not attached to %s", d, id)
			}
		}
		system = system && !dropSystem
		var keep, removed []string
		for _, u := range user {
			gone := false
			for _, d := range drop {
				gone = gone || sameIdentity(u, d)
			}
			if gone {
				removed = append(removed, u)
			} else {
				keep = append(keep, u)
			}
		}
		ident := map[string]any{"type": identityType(system, len(keep))}
		if len(keep) > 0 && len(removed) > 0 {
			ua := map[string]any{}
			for _, r := range removed {
				ua[r] = nil
			}
			ident["userAssignedIdentities"] = ua
		}
		var out map[string]any
		if err := c.arm(ctx, http.MethodPatch, escapedPath(id), v, map[string]any{"identity": ident}, &out); err != nil {
			return err
		}
		if out["identity"] == nil {
			out["identity"] = map[string]any{"type": "None"}
		}
		return printOut(cmd.OutOrStdout(), f.output, out["identity"], []column{{"Type", "type"}, {"PrincipalId", "principalId"}})
	})
}

func newResourceIdentityShowCmd() *cobra.Command {
	var a armFlags
	var ref resourceRef
	return clientCommand("show", "Show a resource's identity block", func(cmd *cobra.Command) {
		a.register(cmd)
		ref.register(cmd, true)
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		res, err := getResource(ctx, c, f, &a, &ref)
		if err != nil {
			return err
		}
		if res["identity"] == nil {
			return nil // az prints nothing for a resource without identities
		}
		return printOut(cmd.OutOrStdout(), f.output, res["identity"], []column{{"Type", "type"}, {"PrincipalId", "principalId"}, {"TenantId", "tenantId"}})
	})
}
