// Package armid parses, prints and compares Azure Resource Manager resource IDs and scopes, and
// validates the names that appear in them.
//
// It is pure: no I/O, no knowledge of which resources exist. It is not a router: it parses IDs
// (an even number of type/name segments after each provider namespace), not collection paths
// such as ".../providers/Microsoft.ManagedIdentity/userAssignedIdentities".
//
// ARM compares IDs case-insensitively (resource group "RG" and "rg" are the same group), but
// echoes names in the case they were created with. ResourceID therefore keeps the original case
// of every name; String gives the canonical spelling (keywords in ARM's camel case, names as
// given), Lower gives the comparison key and Equal compares.
package armid

import (
	"strings"
	"unicode/utf8"
)

// Resource types of the two scopes that are not provider resources.
const (
	SubscriptionType  = "Microsoft.Resources/subscriptions"
	ResourceGroupType = "Microsoft.Resources/resourceGroups"
)

// ResourceID is a parsed ARM resource ID or scope. The zero value is the tenant root scope "/".
//
// Shapes:
//
//	/                                                     root (zero value)
//	/subscriptions/{sub}                                  subscription
//	/subscriptions/{sub}/resourceGroups/{rg}              resource group
//	[{sub or rg}]/providers/{ns}/{type}/{name}[/{t}/{n}]  provider resource (tenant, subscription
//	                                                      or resource-group level)
//	{resource}/providers/{ns}/{type}/{name}...            extension resource on another resource
//
// For an extension resource on a resource (a role assignment on a web site, the system-assigned
// identity "default" of a container app) Provider/Types/Names describe the extension and Scope
// returns the resource it extends; SubscriptionID and ResourceGroup are those of that resource.
// Values are immutable by convention: methods never modify the receiver, and copies share the
// slices, so do not modify Types or Names of a parsed ID.
type ResourceID struct {
	SubscriptionID string
	ResourceGroup  string
	// Provider is the namespace of the last /providers/ section, e.g. "Microsoft.Web"; empty for
	// the root, a subscription or a resource group.
	Provider string
	// Types and Names pair up: Types[i] is the type segment whose instance is Names[i]
	// (["sites","slots"], ["app","staging"]).
	Types []string
	Names []string

	// scope is set only when the ID extends another provider resource; otherwise the scope is
	// implied by SubscriptionID and ResourceGroup.
	scope *ResourceID
}

// Root is the tenant root scope "/".
func Root() ResourceID { return ResourceID{} }

// Subscription returns the ID of a subscription.
func Subscription(subscriptionID string) ResourceID {
	return ResourceID{SubscriptionID: subscriptionID}
}

// ResourceGroupID returns the ID of a resource group.
func ResourceGroupID(subscriptionID, resourceGroup string) ResourceID {
	return ResourceID{SubscriptionID: subscriptionID, ResourceGroup: resourceGroup}
}

// Extension returns the ID {id}/providers/{namespace}/{type}/{name}: a resource deployed at the
// scope id (a resource group, a subscription, the root) or an extension resource on the resource
// id (a role assignment, identities/default).
func (id ResourceID) Extension(namespace, resourceType, name string) ResourceID {
	out := ResourceID{
		SubscriptionID: id.SubscriptionID,
		ResourceGroup:  id.ResourceGroup,
		Provider:       namespace,
		Types:          []string{resourceType},
		Names:          []string{name},
	}
	if id.Provider != "" {
		scope := id
		out.scope = &scope
	}
	return out
}

// Child returns the ID of the child resource {id}/{type}/{name}. id must be a provider resource;
// on a subscription, resource group or the root Child returns id unchanged.
func (id ResourceID) Child(childType, name string) ResourceID {
	if id.Provider == "" {
		return id
	}
	out := id
	out.Types = append(append(make([]string, 0, len(id.Types)+1), id.Types...), childType)
	out.Names = append(append(make([]string, 0, len(id.Names)+1), id.Names...), name)
	return out
}

// IsRoot reports whether id is the tenant root scope "/".
func (id ResourceID) IsRoot() bool {
	return id.SubscriptionID == "" && id.ResourceGroup == "" && id.Provider == "" && id.scope == nil
}

// IsSubscription reports whether id is a subscription.
func (id ResourceID) IsSubscription() bool {
	return id.Provider == "" && id.SubscriptionID != "" && id.ResourceGroup == ""
}

// IsResourceGroup reports whether id is a resource group.
func (id ResourceID) IsResourceGroup() bool {
	return id.Provider == "" && id.ResourceGroup != ""
}

// IsResource reports whether id is a provider resource (including child and extension resources).
func (id ResourceID) IsResource() bool { return id.Provider != "" }

// String returns the canonical spelling: "subscriptions", "resourceGroups" and "providers" in
// ARM's case, every name and type as parsed. The root is "/".
func (id ResourceID) String() string {
	var b strings.Builder
	id.write(&b)
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

func (id ResourceID) write(b *strings.Builder) {
	if id.scope != nil {
		id.scope.write(b)
	} else if id.SubscriptionID != "" {
		b.WriteString("/subscriptions/")
		b.WriteString(id.SubscriptionID)
		if id.ResourceGroup != "" {
			b.WriteString("/resourceGroups/")
			b.WriteString(id.ResourceGroup)
		}
	}
	if id.Provider == "" {
		return
	}
	b.WriteString("/providers/")
	b.WriteString(id.Provider)
	for i := range min(len(id.Types), len(id.Names)) {
		b.WriteByte('/')
		b.WriteString(id.Types[i])
		b.WriteByte('/')
		b.WriteString(id.Names[i])
	}
}

// Lower returns the lower-cased canonical spelling, the key to store and compare IDs by.
func (id ResourceID) Lower() string { return strings.ToLower(id.String()) }

// Equal reports whether id and other name the same resource, ignoring case.
func (id ResourceID) Equal(other ResourceID) bool { return id.Lower() == other.Lower() }

// ResourceType returns the ARM resource type: "Microsoft.Web/sites/slots" for a slot,
// "Microsoft.Authorization/roleAssignments" for a role assignment at any scope,
// ResourceGroupType for a group, SubscriptionType for a subscription, "" for the root.
func (id ResourceID) ResourceType() string {
	switch {
	case id.Provider != "":
		return id.Provider + "/" + strings.Join(id.Types, "/")
	case id.ResourceGroup != "":
		return ResourceGroupType
	case id.SubscriptionID != "":
		return SubscriptionType
	}
	return ""
}

// Name returns the last name in the ID: the resource name, the resource group name, or the
// subscription ID; "" for the root.
func (id ResourceID) Name() string {
	switch {
	case id.Provider != "" && len(id.Names) > 0:
		return id.Names[len(id.Names)-1]
	case id.Provider != "":
		return ""
	case id.ResourceGroup != "":
		return id.ResourceGroup
	}
	return id.SubscriptionID
}

// Scope returns the scope a provider resource is deployed at: everything before its last
// "/providers/" segment (the resource group, subscription or root for an ordinary resource, the
// extended resource for an extension resource). It reports false for the root, subscriptions and
// resource groups.
func (id ResourceID) Scope() (ResourceID, bool) {
	switch {
	case id.Provider == "":
		return ResourceID{}, false
	case id.scope != nil:
		return *id.scope, true
	}
	return ResourceID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}, true
}

// Parent returns the next scope up: a child resource's parent resource, a top-level resource's
// Scope, a resource group's subscription, a subscription's root. It reports false only for the
// root. Walking Parent from any ID visits every scope whose role assignments apply to it.
func (id ResourceID) Parent() (ResourceID, bool) {
	switch {
	case id.Provider != "" && len(id.Types) > 1 && len(id.Names) == len(id.Types):
		out := id
		out.Types = id.Types[: len(id.Types)-1 : len(id.Types)-1]
		out.Names = id.Names[: len(id.Names)-1 : len(id.Names)-1]
		return out, true
	case id.Provider != "":
		return id.Scope()
	case id.ResourceGroup != "":
		return ResourceID{SubscriptionID: id.SubscriptionID}, true
	case id.SubscriptionID != "":
		return ResourceID{}, true
	}
	return ResourceID{}, false
}

// IsUnderID reports whether id is scope or lies below it, comparing whole segments and ignoring
// case. Every ID is under the root.
func (id ResourceID) IsUnderID(scope ResourceID) bool {
	if scope.IsRoot() {
		return true
	}
	s, i := scope.Lower(), id.Lower()
	return i == s || strings.HasPrefix(i, s+"/")
}

// IsUnder is IsUnderID for a scope given as a string (see ParseScope). It reports false when
// scope does not parse.
func (id ResourceID) IsUnder(scope string) bool {
	s, err := ParseScope(scope)
	if err != nil {
		return false
	}
	return id.IsUnderID(s)
}

// MarshalText implements encoding.TextMarshaler with String.
func (id ResourceID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseScope.
func (id *ResourceID) UnmarshalText(b []byte) error {
	p, err := ParseScope(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// Parse parses a fully qualified resource ID: a subscription, a resource group, or a provider
// resource at any scope (see ResourceID). The keywords "subscriptions", "resourceGroups" and
// "providers" are matched case-insensitively; names keep their case. The root "/" is not an ID;
// use ParseScope where it is allowed.
func Parse(s string) (ResourceID, error) {
	if s == "/" {
		return ResourceID{}, invalidID(s, "the root scope '/' is not a resource id")
	}
	return parse(s)
}

// ParseScope parses a role-assignment scope: anything Parse accepts, or the root "/".
func ParseScope(s string) (ResourceID, error) {
	if s == "/" {
		return ResourceID{}, nil
	}
	return parse(s)
}

func parse(s string) (ResourceID, error) {
	if s == "" {
		return ResourceID{}, invalidID(s, "it is empty")
	}
	if s[0] != '/' {
		return ResourceID{}, invalidID(s, "it must start with '/'")
	}
	if !utf8.ValidString(s) {
		return ResourceID{}, invalidID(s, "it is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ResourceID{}, invalidID(s, "it contains control characters")
		}
	}
	segs := strings.Split(s[1:], "/")
	for i, seg := range segs {
		if seg == "" {
			if i == len(segs)-1 {
				return ResourceID{}, invalidID(s, "it must not end with '/'")
			}
			return ResourceID{}, invalidID(s, "it contains an empty segment ('//')")
		}
	}

	var id ResourceID
	i := 0
	if strings.EqualFold(segs[0], "subscriptions") {
		if len(segs) < 2 {
			return ResourceID{}, invalidID(s, "'subscriptions' must be followed by a subscription id")
		}
		id.SubscriptionID = segs[1]
		i = 2
		if i < len(segs) && strings.EqualFold(segs[i], "resourceGroups") {
			if i+1 >= len(segs) {
				return ResourceID{}, invalidID(s, "'resourceGroups' must be followed by a resource group name")
			}
			id.ResourceGroup = segs[i+1]
			i += 2
		}
	}
	for i < len(segs) {
		if !strings.EqualFold(segs[i], "providers") {
			return ResourceID{}, invalidID(s, "unexpected segment '"+segs[i]+"'")
		}
		if i+1 >= len(segs) {
			return ResourceID{}, invalidID(s, "'providers' must be followed by a resource provider namespace")
		}
		ns := segs[i+1]
		i += 2
		var types, names []string
		for i < len(segs) && !strings.EqualFold(segs[i], "providers") {
			if i+1 >= len(segs) {
				return ResourceID{}, invalidID(s, "resource type '"+segs[i]+"' must be followed by a resource name")
			}
			types = append(types, segs[i])
			names = append(names, segs[i+1])
			i += 2
		}
		if len(types) == 0 {
			return ResourceID{}, invalidID(s, "provider namespace '"+ns+"' must be followed by a resource type and name")
		}
		next := ResourceID{
			SubscriptionID: id.SubscriptionID,
			ResourceGroup:  id.ResourceGroup,
			Provider:       ns,
			Types:          types,
			Names:          names,
		}
		if id.Provider != "" {
			scope := id
			next.scope = &scope
		}
		id = next
	}
	return id, nil
}
