package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/mint-id/mint/internal/server"
)

// `mint role ...`: role definitions, role assignments (shaped like az role) and the access
// explainer (`mint role check`), all clients of the management endpoint's Microsoft.Authorization.

const authorizationAPIVersion = "2022-04-01"

func newRoleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Manage Azure RBAC: role definitions, role assignments, and why access is allowed or denied (like az role)"}
	def := &cobra.Command{Use: "definition", Short: "Manage role definitions"}
	def.AddCommand(newRoleDefinitionListCmd(), newRoleDefinitionCreateCmd(), newRoleDefinitionUpdateCmd(), newRoleDefinitionDeleteCmd())
	ra := &cobra.Command{Use: "assignment", Short: "Manage role assignments"}
	ra.AddCommand(newRoleAssignmentCreateCmd(), newRoleAssignmentListCmd(), newRoleAssignmentDeleteCmd())
	cmd.AddCommand(def, ra, newRoleCheckCmd())
	return cmd
}

// rbacSubscription is the subscription to work in: --subscription, else AZURE_SUBSCRIPTION_ID
// from the env file `mint dev` wrote or from the environment.
func rbacSubscription(f *clientFlags, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	file := f.envFile
	if file == "" && os.Getenv("MINT_ENDPOINT") == "" && os.Getenv("MINT_DATA_DIR") != "" {
		file = filepath.Join(os.Getenv("MINT_DATA_DIR"), "env")
	}
	if file != "" {
		if vars, err := server.ParseEnvFile(file); err == nil && vars["AZURE_SUBSCRIPTION_ID"] != "" {
			return vars["AZURE_SUBSCRIPTION_ID"], nil
		}
	}
	if s := os.Getenv("AZURE_SUBSCRIPTION_ID"); s != "" {
		return s, nil
	}
	return "", errors.New("no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID (`mint dev` writes it to its env file)")
}

// rbacScope is the scope named by --scope, else --resource-group, else the subscription.
func rbacScope(sub, scope, group string) string {
	switch {
	case scope != "":
		if scope != "/" {
			scope = strings.TrimRight(scope, "/")
		}
		return scope
	case group != "":
		return "/subscriptions/" + sub + "/resourceGroups/" + group
	}
	return "/subscriptions/" + sub
}

// rbacPath is {scope}/providers/Microsoft.Authorization/{rest}?api-version=...&query.
func rbacPath(scope, rest string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	q.Set("api-version", authorizationAPIVersion)
	return strings.TrimRight(scope, "/") + "/providers/Microsoft.Authorization/" + rest + "?" + q.Encode()
}

// armList follows nextLink pages of an ARM list.
func (c *apiClient) armList(ctx context.Context, path string) ([]map[string]any, error) {
	var all []map[string]any
	for path != "" {
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"nextLink"`
		}
		if err := c.do(ctx, managementScope, "GET", path, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Value...)
		path = strings.TrimPrefix(page.NextLink, c.base)
	}
	return all, nil
}

func roleIsGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

func roleStr(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func roleProps(m map[string]any) map[string]any {
	p, _ := m["properties"].(map[string]any)
	if p == nil {
		p = map[string]any{}
	}
	return p
}

// Role definitions.

var roleDefinitionColumns = []column{{"Name", "roleName"}, {"Type", "roleType"}, {"Description", "description"}}

// flattenRoleDefinition is az's shape: properties at the top level, properties.type as roleType.
func flattenRoleDefinition(rd map[string]any) map[string]any {
	out := map[string]any{"id": rd["id"], "name": rd["name"], "type": rd["type"]}
	for k, v := range roleProps(rd) {
		if k == "type" {
			k = "roleType"
		}
		out[k] = v
	}
	return out
}

// resolveRole finds a role definition by name, GUID or full id; it returns the definition.
func resolveRole(ctx context.Context, c *apiClient, sub, role string) (map[string]any, error) {
	role = strings.TrimSpace(role)
	var rd map[string]any
	switch {
	case strings.HasPrefix(role, "/"):
		if err := c.do(ctx, managementScope, "GET", role+"?api-version="+authorizationAPIVersion, nil, &rd); err != nil {
			return nil, err
		}
		return rd, nil
	case roleIsGUID(role):
		if err := c.do(ctx, managementScope, "GET", rbacPath("/subscriptions/"+sub, "roleDefinitions/"+role, nil), nil, &rd); err != nil {
			return nil, err
		}
		return rd, nil
	}
	list, err := c.armList(ctx, rbacPath("/subscriptions/"+sub, "roleDefinitions", url.Values{"$filter": {"roleName eq '" + strings.ReplaceAll(role, "'", "''") + "'"}}))
	if err != nil {
		return nil, err
	}
	switch len(list) {
	case 0:
		return nil, fmt.Errorf("role '%s' doesn't exist; `mint role definition list -o table` shows the roles", role)
	case 1:
		return list[0], nil
	}
	return nil, fmt.Errorf("more than one role is named '%s'; use its id", role)
}

func newRoleDefinitionListCmd() *cobra.Command {
	var name, scope, subFlag string
	var customOnly bool
	return clientCommand("list", "List role definitions: the built-in roles and the custom ones", func(cmd *cobra.Command) {
		cmd.Flags().StringVarP(&name, "name", "n", "", "a role's name or id")
		cmd.Flags().BoolVar(&customOnly, "custom-role-only", false, "list custom roles only")
		cmd.Flags().StringVar(&scope, "scope", "", "scope to list at (default: the subscription)")
		cmd.Flags().StringVar(&subFlag, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID)")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := rbacSubscription(f, subFlag)
		if err != nil {
			return err
		}
		at := rbacScope(sub, scope, "")
		var list []map[string]any
		if roleIsGUID(name) {
			var rd map[string]any
			if err := c.do(ctx, managementScope, "GET", rbacPath(at, "roleDefinitions/"+name, nil), nil, &rd); err != nil {
				return err
			}
			list = []map[string]any{rd}
		} else {
			var clauses []string
			if name != "" {
				clauses = append(clauses, "roleName eq '"+strings.ReplaceAll(name, "'", "''")+"'")
			}
			if customOnly {
				clauses = append(clauses, "type eq 'CustomRole'")
			}
			q := url.Values{}
			if len(clauses) > 0 {
				q.Set("$filter", strings.Join(clauses, " and "))
			}
			if list, err = c.armList(ctx, rbacPath(at, "roleDefinitions", q)); err != nil {
				return err
			}
		}
		out := []map[string]any{}
		for _, rd := range list {
			flat := flattenRoleDefinition(rd)
			if customOnly && flat["roleType"] != "CustomRole" {
				continue
			}
			out = append(out, flat)
		}
		return printOut(cmd.OutOrStdout(), f.output, out, roleDefinitionColumns)
	})
}

// roleDefinitionInput reads az's role-definition JSON ({"Name", "Description", "Actions",
// "NotActions", "DataActions", "NotDataActions", "AssignableScopes"}, any key case) or ARM's
// ({"properties": {"roleName", "permissions", "assignableScopes"}}) into an ARM PUT body.
func roleDefinitionInput(raw []byte) (body map[string]any, scopes []string, err error) {
	var in map[string]any
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, nil, fmt.Errorf("--role-definition is not JSON: %w", err)
	}
	if p, ok := in["properties"].(map[string]any); ok {
		in = p
	}
	lower := map[string]any{}
	for k, v := range in {
		lower[strings.ToLower(k)] = v
	}
	strs := func(key string) []string {
		var out []string
		list, _ := lower[key].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	name, _ := lower["rolename"].(string)
	if name == "" {
		name, _ = lower["name"].(string)
	}
	if strings.TrimSpace(name) == "" {
		return nil, nil, errors.New("the role definition needs a Name")
	}
	description, _ := lower["description"].(string)
	perms, _ := lower["permissions"].([]any)
	if perms == nil {
		block := map[string]any{"actions": nonNilStrs(strs("actions")), "notActions": nonNilStrs(strs("notactions")),
			"dataActions": nonNilStrs(strs("dataactions")), "notDataActions": nonNilStrs(strs("notdataactions"))}
		perms = []any{block}
	}
	scopes = strs("assignablescopes")
	if len(scopes) == 0 {
		return nil, nil, errors.New("the role definition needs AssignableScopes, e.g. [\"/subscriptions/<id>\"]")
	}
	body = map[string]any{"properties": map[string]any{
		"roleName": name, "description": description, "type": "CustomRole", "permissions": perms, "assignableScopes": scopes,
	}}
	return body, scopes, nil
}

func nonNilStrs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// roleDefinitionFlag reads --role-definition: JSON, @file, or (as az) a bare path.
func roleDefinitionFlag(def string) ([]byte, error) {
	if strings.HasPrefix(def, "@") {
		return os.ReadFile(def[1:])
	}
	if !strings.HasPrefix(strings.TrimSpace(def), "{") {
		if data, err := os.ReadFile(def); err == nil {
			return data, nil
		}
	}
	return []byte(def), nil
}

func newRoleDefinitionCreateCmd() *cobra.Command {
	var def string
	return clientCommand("create", "Create a custom role", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&def, "role-definition", "", "the role as JSON, or @file holding it (required)")
		cmd.MarkFlagRequired("role-definition")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		raw, err := roleDefinitionFlag(def)
		if err != nil {
			return err
		}
		body, scopes, err := roleDefinitionInput(raw)
		if err != nil {
			return err
		}
		var rd map[string]any
		if err := c.do(ctx, managementScope, "PUT", rbacPath(scopes[0], "roleDefinitions/"+uuid.NewString(), nil), body, &rd); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, flattenRoleDefinition(rd), roleDefinitionColumns)
	})
}

// newRoleDefinitionUpdateCmd replaces a custom role as az role definition update does: the JSON
// names the role by its "id" (the definition's id or GUID) or, without one, by its name.
func newRoleDefinitionUpdateCmd() *cobra.Command {
	var def, subFlag string
	return clientCommand("update", "Replace a custom role's name, description, permissions or assignable scopes", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&def, "role-definition", "", "the role as JSON, or @file holding it, with its id or name (required)")
		cmd.Flags().StringVar(&subFlag, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID)")
		cmd.MarkFlagRequired("role-definition")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		raw, err := roleDefinitionFlag(def)
		if err != nil {
			return err
		}
		body, _, err := roleDefinitionInput(raw)
		if err != nil {
			return err
		}
		var named struct{ ID string }
		json.Unmarshal(raw, &named) // roleDefinitionInput has checked it is JSON
		ref := named.ID
		if ref == "" {
			ref = roleStr(body["properties"].(map[string]any), "roleName")
		}
		sub, err := rbacSubscription(f, subFlag)
		if err != nil {
			return err
		}
		existing, err := resolveRole(ctx, c, sub, ref)
		if err != nil {
			return err
		}
		if t := roleStr(roleProps(existing), "type"); t != "CustomRole" {
			return fmt.Errorf("'%s' is a %s; only custom roles can be updated", ref, t)
		}
		var rd map[string]any
		if err := c.do(ctx, managementScope, "PUT", roleStr(existing, "id")+"?api-version="+authorizationAPIVersion, body, &rd); err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), f.output, flattenRoleDefinition(rd), roleDefinitionColumns)
	})
}

func newRoleDefinitionDeleteCmd() *cobra.Command {
	var name, scope, subFlag string
	return clientCommand("delete", "Delete a custom role", func(cmd *cobra.Command) {
		cmd.Flags().StringVarP(&name, "name", "n", "", "the role's name or id (required)")
		cmd.Flags().StringVar(&scope, "scope", "", "scope of the role (default: the subscription)")
		cmd.Flags().StringVar(&subFlag, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID)")
		cmd.MarkFlagRequired("name")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := rbacSubscription(f, subFlag)
		if err != nil {
			return err
		}
		rd, err := resolveRole(ctx, c, sub, name)
		if err != nil {
			return err
		}
		if t := roleStr(roleProps(rd), "type"); t != "CustomRole" {
			return fmt.Errorf("'%s' is a %s; only custom roles can be deleted", name, t)
		}
		return c.do(ctx, managementScope, "DELETE", rbacPath(rbacScope(sub, scope, ""), "roleDefinitions/"+roleStr(rd, "name"), nil), nil, nil)
	})
}

// Role assignments.

var roleAssignmentColumns = []column{{"Principal", "principalName"}, {"Role", "roleDefinitionName"}, {"Scope", "scope"}}

// flattenAssignment is az's shape: properties at the top level, plus resourceGroup.
func flattenAssignment(ra map[string]any) map[string]any {
	out := map[string]any{"id": ra["id"], "name": ra["name"], "type": ra["type"], "resourceGroup": nil}
	for k, v := range roleProps(ra) {
		out[k] = v
	}
	parts := strings.Split(roleStr(ra, "id"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			out["resourceGroup"] = parts[i+1]
			break
		}
	}
	return out
}

// assignee is a principal as az resolves --assignee through Graph.
type assignee struct {
	objectID, principalType, name string
}

// resolveAssignee finds a service principal by object id or app id through Graph, as az does.
// When Graph cannot be asked (the caller lacks directory read) a GUID is taken as an object id.
func resolveAssignee(ctx context.Context, c *apiClient, who string) (assignee, error) {
	if a, ok := resolvePerson(ctx, c, who); ok {
		return a, nil
	}
	sp, err := findSP(ctx, c, who)
	if err == nil {
		name := roleStr(sp, "displayName")
		if names, _ := sp["servicePrincipalNames"].([]any); len(names) > 0 {
			if s, _ := names[0].(string); s != "" {
				name = s
			}
		}
		return assignee{objectID: roleStr(sp, "id"), principalType: "ServicePrincipal", name: name}, nil
	}
	var ae *apiError
	if errors.As(err, &ae) && roleIsGUID(who) {
		return assignee{objectID: strings.ToLower(who)}, nil // Graph refused: take it as an object id
	}
	if strings.Contains(who, "@") && err != nil && !errors.As(err, &ae) {
		// A sign-in name: the service principal lookup's "not found" would send the person to
		// the wrong list.
		return assignee{}, fmt.Errorf("cannot find user or service principal in graph database for '%s': no user signs in as %q; `mint ad user list` shows them", who, who)
	}
	return assignee{}, fmt.Errorf("cannot find user or service principal in graph database for '%s': %w", who, err)
}

// resolvePerson finds a user by user principal name, or a user or group by object id, as az
// does (users?$filter=userPrincipalName eq, directoryObjects/getByIds).
func resolvePerson(ctx context.Context, c *apiClient, who string) (assignee, bool) {
	var found struct {
		Value []map[string]any `json:"value"`
	}
	switch {
	case strings.Contains(who, "@"):
		filter := "userPrincipalName eq '" + strings.ReplaceAll(who, "'", "''") + "'"
		if c.do(ctx, graphScope, "GET", "/v1.0/users?$filter="+url.QueryEscape(filter), nil, &found) != nil {
			return assignee{}, false
		}
	case roleIsGUID(who):
		body := map[string]any{"ids": []string{who}, "types": []string{"user", "group"}}
		if c.do(ctx, graphScope, "POST", "/v1.0/directoryObjects/getByIds", body, &found) != nil {
			return assignee{}, false
		}
	default:
		return assignee{}, false
	}
	if len(found.Value) != 1 {
		return assignee{}, false
	}
	o := found.Value[0]
	switch roleStr(o, "@odata.type") {
	case "#microsoft.graph.user":
		return assignee{objectID: roleStr(o, "id"), principalType: "User", name: roleStr(o, "userPrincipalName")}, true
	case "#microsoft.graph.group":
		return assignee{objectID: roleStr(o, "id"), principalType: "Group", name: roleStr(o, "displayName")}, true
	}
	return assignee{}, false
}

func newRoleAssignmentCreateCmd() *cobra.Command {
	var who, objectID, ptype, role, scope, group, description, condition, conditionVersion, name, subFlag string
	return clientCommand("create", "Assign a role to a principal at a scope", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&who, "assignee", "", "the principal: a user's sign-in name or object id, a group's object id, or a service principal's or managed identity's object id or app id")
		cmd.Flags().StringVar(&objectID, "assignee-object-id", "", "the principal's object id, used as is (no directory lookup)")
		cmd.Flags().StringVar(&ptype, "assignee-principal-type", "", "ServicePrincipal, User, Group, ForeignGroup or Device (default: ServicePrincipal for a service principal found in the directory)")
		cmd.Flags().StringVar(&role, "role", "", "role name, id or full role definition id (required)")
		cmd.Flags().StringVar(&scope, "scope", "", "scope of the assignment (default: the resource group, else the subscription)")
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "resource group as the scope")
		cmd.Flags().StringVar(&description, "description", "", "description of the assignment")
		cmd.Flags().StringVar(&condition, "condition", "", "ABAC condition (stored; mint does not evaluate conditions, so the assignment grants nothing)")
		cmd.Flags().StringVar(&conditionVersion, "condition-version", "", "condition version (2.0)")
		cmd.Flags().StringVar(&name, "name", "", "the assignment's name, a GUID (default: new)")
		cmd.Flags().StringVar(&subFlag, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID)")
		cmd.MarkFlagRequired("role")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		if (who == "") == (objectID == "") {
			return errors.New("give one of --assignee or --assignee-object-id")
		}
		sub, err := rbacSubscription(f, subFlag)
		if err != nil {
			return err
		}
		rd, err := resolveRole(ctx, c, sub, role)
		if err != nil {
			return err
		}
		principal := assignee{objectID: objectID, principalType: ptype}
		if who != "" {
			if principal, err = resolveAssignee(ctx, c, who); err != nil {
				return err
			}
			if principal.principalType == "" {
				// Not found through Graph: mint's directory holds service principals only.
				principal.principalType = "ServicePrincipal"
			}
			if ptype != "" {
				principal.principalType = ptype
			}
		}
		if name == "" {
			name = uuid.NewString()
		}
		p := map[string]any{"roleDefinitionId": roleStr(rd, "id"), "principalId": principal.objectID}
		if principal.principalType != "" {
			p["principalType"] = principal.principalType
		}
		if description != "" {
			p["description"] = description
		}
		if condition != "" {
			p["condition"] = condition
			if conditionVersion == "" {
				conditionVersion = "2.0"
			}
			p["conditionVersion"] = conditionVersion
		}
		var ra map[string]any
		at := rbacScope(sub, scope, group)
		if err := c.do(ctx, managementScope, "PUT", rbacPath(at, "roleAssignments/"+name, nil), map[string]any{"properties": p}, &ra); err != nil {
			return err
		}
		out := flattenAssignment(ra)
		if f.output.Format == "table" {
			out["principalName"], out["roleDefinitionName"] = principal.name, roleStr(roleProps(rd), "roleName")
		}
		return printOut(cmd.OutOrStdout(), f.output, out, roleAssignmentColumns)
	})
}

// scopeCovers reports whether an assignment at scope applies at target (case-insensitive, on
// segment boundaries).
func roleScopeCovers(scope, target string) bool {
	s, t := strings.ToLower(strings.TrimRight(scope, "/")), strings.ToLower(strings.TrimRight(target, "/"))
	return s == "" || s == t || strings.HasPrefix(t, s+"/")
}

// listAssignments lists the assignments az would show: at the scope (and above with inherited,
// everything with all), of the assignee and role when given.
func listAssignments(ctx context.Context, c *apiClient, sub, at, principalID, roleGUID string, all, inherited bool) ([]map[string]any, error) {
	q := url.Values{}
	if principalID != "" {
		q.Set("$filter", "principalId eq '"+principalID+"'")
	}
	list, err := c.armList(ctx, rbacPath(at, "roleAssignments", q))
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, ra := range list {
		p := roleProps(ra)
		scope := roleStr(p, "scope")
		switch {
		case all:
		case strings.EqualFold(strings.TrimRight(scope, "/"), strings.TrimRight(at, "/")):
		case inherited && roleScopeCovers(scope, at):
		default:
			continue
		}
		if roleGUID != "" && !strings.EqualFold(roleLastSegment(roleStr(p, "roleDefinitionId")), roleGUID) {
			continue
		}
		out = append(out, ra)
	}
	return out, nil
}

func roleLastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndexByte(id, '/')+1:]
}

func newRoleAssignmentListCmd() *cobra.Command {
	var who, role, scope, group, subFlag string
	var all, inherited bool
	return clientCommand("list", "List role assignments, with the role's and the principal's names", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&who, "assignee", "", "only this principal (object id or app id)")
		cmd.Flags().StringVar(&role, "role", "", "only this role (name or id)")
		cmd.Flags().StringVar(&scope, "scope", "", "scope (default: the resource group, else the subscription)")
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "resource group as the scope")
		cmd.Flags().BoolVar(&all, "all", false, "show assignments at every scope, not only at the scope asked")
		cmd.Flags().BoolVar(&inherited, "include-inherited", false, "also show assignments above the scope")
		cmd.Flags().StringVar(&subFlag, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID)")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		sub, err := rbacSubscription(f, subFlag)
		if err != nil {
			return err
		}
		principalID := ""
		if who != "" {
			a, err := resolveAssignee(ctx, c, who)
			if err != nil {
				return err
			}
			principalID = a.objectID
		}
		roleGUID := ""
		if role != "" {
			rd, err := resolveRole(ctx, c, sub, role)
			if err != nil {
				return err
			}
			roleGUID = roleStr(rd, "name")
		}
		list, err := listAssignments(ctx, c, sub, rbacScope(sub, scope, group), principalID, roleGUID, all, inherited)
		if err != nil {
			return err
		}
		roleNames := map[string]string{}
		if defs, err := c.armList(ctx, rbacPath("/subscriptions/"+sub, "roleDefinitions", nil)); err == nil {
			for _, d := range defs {
				roleNames[strings.ToLower(roleStr(d, "name"))] = roleStr(roleProps(d), "roleName")
			}
		}
		principalNames := map[string]string{}
		if sps, err := c.graphList(ctx, "/v1.0/servicePrincipals"); err == nil {
			for _, sp := range sps {
				name := roleStr(sp, "displayName")
				if names, _ := sp["servicePrincipalNames"].([]any); len(names) > 0 {
					if s, _ := names[0].(string); s != "" {
						name = s
					}
				}
				principalNames[strings.ToLower(roleStr(sp, "id"))] = name
			}
		}
		out := []map[string]any{}
		for _, ra := range list {
			flat := flattenAssignment(ra)
			flat["roleDefinitionName"] = roleNames[strings.ToLower(roleLastSegment(roleStr(flat, "roleDefinitionId")))]
			flat["principalName"] = principalNames[strings.ToLower(roleStr(flat, "principalId"))]
			out = append(out, flat)
		}
		sort.SliceStable(out, func(i, j int) bool { return roleStr(out[i], "scope") < roleStr(out[j], "scope") })
		return printOut(cmd.OutOrStdout(), f.output, out, roleAssignmentColumns)
	})
}

func newRoleAssignmentDeleteCmd() *cobra.Command {
	var ids []string
	var who, role, scope, group, subFlag string
	var yes bool
	return clientCommand("delete", "Delete role assignments by id, or by assignee, role and scope", func(cmd *cobra.Command) {
		cmd.Flags().StringSliceVar(&ids, "ids", nil, "full role assignment ids (repeatable)")
		cmd.Flags().StringVar(&who, "assignee", "", "the principal (object id or app id)")
		cmd.Flags().StringVar(&role, "role", "", "the role (name or id)")
		cmd.Flags().StringVar(&scope, "scope", "", "scope (default: the resource group, else the subscription)")
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "resource group as the scope")
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete every assignment at the scope when neither --assignee nor --role narrows it")
		cmd.Flags().StringVar(&subFlag, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID)")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		if len(ids) > 0 {
			if who != "" || role != "" || scope != "" || group != "" {
				return errors.New("give --ids alone, or --assignee/--role/--scope")
			}
			for _, id := range ids {
				if err := c.do(ctx, managementScope, "DELETE", strings.TrimRight(id, "/")+"?api-version="+authorizationAPIVersion, nil, nil); err != nil {
					return err
				}
			}
			return nil
		}
		if who == "" && role == "" && !yes {
			return errors.New("this deletes every role assignment at the scope; narrow it with --assignee or --role, or confirm with --yes")
		}
		sub, err := rbacSubscription(f, subFlag)
		if err != nil {
			return err
		}
		principalID, roleGUID := "", ""
		if who != "" {
			a, err := resolveAssignee(ctx, c, who)
			if err != nil {
				return err
			}
			principalID = a.objectID
		}
		if role != "" {
			rd, err := resolveRole(ctx, c, sub, role)
			if err != nil {
				return err
			}
			roleGUID = roleStr(rd, "name")
		}
		list, err := listAssignments(ctx, c, sub, rbacScope(sub, scope, group), principalID, roleGUID, false, false)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(cmd.ErrOrStderr(), "No matched assignments were found to delete.")
			return nil
		}
		for _, ra := range list {
			if err := c.do(ctx, managementScope, "DELETE", roleStr(ra, "id")+"?api-version="+authorizationAPIVersion, nil, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// The access explainer.

func newRoleCheckCmd() *cobra.Command {
	var who, action, scope, group, subFlag string
	var dataAction bool
	return clientCommand("check", "Explain whether a principal may perform an action at a scope, and why (exit 0 allowed, 3 denied)", func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&who, "assignee", "", "the principal: object id or app id (default: yourself)")
		cmd.Flags().StringVar(&action, "action", "", "the action, e.g. Microsoft.KeyVault/vaults/read (required)")
		cmd.Flags().BoolVar(&dataAction, "data-action", false, "the action is a data action, e.g. Microsoft.KeyVault/vaults/secrets/getSecret/action")
		cmd.Flags().StringVar(&scope, "scope", "", "the scope, e.g. a vault's id (default: the resource group, else the subscription)")
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "resource group as the scope")
		cmd.Flags().StringVar(&subFlag, "subscription", "", "subscription id (default $AZURE_SUBSCRIPTION_ID)")
		cmd.MarkFlagRequired("action")
	}, func(ctx context.Context, cmd *cobra.Command, c *apiClient, f *clientFlags) error {
		at := scope
		if at == "" {
			sub, err := rbacSubscription(f, subFlag)
			if err != nil {
				return err
			}
			at = rbacScope(sub, "", group)
		}
		body := map[string]any{"action": action, "dataAction": dataAction}
		if who != "" {
			a, err := resolveAssignee(ctx, c, who)
			if err != nil {
				return err
			}
			body["principalId"] = a.objectID
		}
		var x map[string]any
		if err := c.do(ctx, managementScope, "POST", rbacPath(at, "explainAccess", nil), body, &x); err != nil {
			return err
		}
		if err := printOut(cmd.OutOrStdout(), f.output, x, []column{{"Allowed", "allowed"}, {"Summary", "summary"}}); err != nil {
			return err
		}
		if allowed, _ := x["allowed"].(bool); !allowed {
			if hint := dataActionHint(action, dataAction); hint != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), hint)
			}
			return &exitError{code: 3}
		}
		return nil
	})
}

// dataActionPrefixes begin the data actions of the services mint serves or forwards: an action
// under one of them checked without --data-action is checked against the roles' actions, which
// never grant it.
var dataActionPrefixes = []string{
	"microsoft.keyvault/vaults/secrets/getsecret/", "microsoft.keyvault/vaults/secrets/setsecret/",
	"microsoft.keyvault/vaults/secrets/delete", "microsoft.keyvault/vaults/secrets/backup/", "microsoft.keyvault/vaults/secrets/restore/",
	"microsoft.keyvault/vaults/secrets/readmetadata/", "microsoft.keyvault/vaults/secrets/update/",
	"microsoft.keyvault/vaults/secrets/recover/", "microsoft.keyvault/vaults/secrets/purge/",
	"microsoft.keyvault/vaults/keys/", "microsoft.keyvault/vaults/certificates/",
	"microsoft.storage/storageaccounts/blobservices/containers/blobs/",
	"microsoft.storage/storageaccounts/queueservices/queues/messages/",
	"microsoft.storage/storageaccounts/tableservices/tables/entities/",
}

// dataActionHint is role check's note when a denied action looks like a data action that was
// checked as a control-plane one ("" otherwise): the commonest reason for a surprising "no".
func dataActionHint(action string, dataAction bool) string {
	if dataAction {
		return ""
	}
	lower := strings.ToLower(action)
	for _, p := range dataActionPrefixes {
		if strings.HasPrefix(lower, p) {
			return fmt.Sprintf("note: %s was checked as a control-plane action; it looks like a data action (what a vault or storage account itself checks): add --data-action to check it as one", action)
		}
	}
	return ""
}
