package arm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/store"
)

// What the providers of resource groups, user-assigned identities, compute-like resources and
// key vaults share: locations, tags, api-version comparison, the ids the MSI resource provider
// echoes, the per-resource write lock, and the handling of one tracked resource (read, replace,
// patch, delete).

// provisioningSucceeded is the provisioningState of every resource mint holds: its writes are
// synchronous, so a resource is either fully there or not at all.
const provisioningSucceeded = "Succeeded"

// normalizeLocation gives a location in ARM's normalized spelling: "East US" → "eastus".
func normalizeLocation(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
}

// validLocation reports whether a normalized location is one mint accepts. mint has no region
// list, so any name made of ASCII letters, digits and hyphens is a region.
func validLocation(loc string) bool {
	if loc == "" || len(loc) > 64 {
		return false
	}
	for i := 0; i < len(loc); i++ {
		c := loc[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// requireLocation checks a tracked resource's location on create; resourceType names the type in
// the error.
func requireLocation(loc *string, resourceType string) (string, *Error) {
	if loc == nil || strings.TrimSpace(*loc) == "" {
		return "", LocationRequired()
	}
	l := normalizeLocation(*loc)
	if !validLocation(l) {
		return "", NewError(http.StatusBadRequest, "LocationNotAvailableForResourceType", fmt.Sprintf(
			"The provided location '%s' is not available for resource type '%s'. A location is a region name made of letters, digits and hyphens, such as 'eastus'.",
			*loc, resourceType))
	}
	return l, nil
}

// LocationRequired is ARM's 400 for a tracked resource sent without a location.
func LocationRequired() *Error {
	return NewError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
}

// invalidResourceLocation is ARM's 400 for a PUT that would move an existing resource.
func invalidResourceLocation(name, existing, requested, resourceGroup string) *Error {
	return NewError(http.StatusBadRequest, "InvalidResourceLocation", fmt.Sprintf(
		"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
		name, existing, resourceGroup, requested))
}

// checkTags validates tags (nil is fine) and returns a non-nil copy.
func checkTags(tags map[string]string) (map[string]string, *Error) {
	if err := armid.ValidateTags(tags); err != nil {
		return nil, AsError(err)
	}
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out, nil
}

// nonNilTags returns tags, or an empty map for none (the MSI resource provider echoes "tags":{}).
func nonNilTags(tags map[string]string) map[string]string {
	if tags == nil {
		return map[string]string{}
	}
	return tags
}

// apiVersionAtLeast compares the date part of two api-versions ("2025-01-31-preview" is at
// least "2024-11-30").
func apiVersionAtLeast(v, min string) bool {
	if len(v) > 10 {
		v = v[:10]
	}
	return v >= min
}

// miID spells a resource id as the MSI resource provider echoes it and as tokens carry it in
// xms_mirid: with a lower-case "resourcegroups" segment.
func miID(id armid.ResourceID) string {
	s := id.String()
	if id.ResourceGroup == "" {
		return s
	}
	prefix := "/subscriptions/" + id.SubscriptionID + "/resourceGroups/"
	if strings.HasPrefix(s, prefix) {
		return "/subscriptions/" + id.SubscriptionID + "/resourcegroups/" + s[len(prefix):]
	}
	return s
}

// canonicalResourceID respells id's namespace and types as resourceType does
// ("microsoft.web/SITES/slots" → "Microsoft.Web/sites/slots"), keeping the names as given.
// resourceType must have as many types as id.
func canonicalResourceID(id armid.ResourceID, resourceType string) armid.ResourceID {
	parts := strings.Split(resourceType, "/")
	if len(parts) < 2 || len(parts)-1 != len(id.Names) {
		return id
	}
	out := armid.ResourceGroupID(id.SubscriptionID, id.ResourceGroup)
	if id.ResourceGroup == "" {
		out = armid.Subscription(id.SubscriptionID)
	}
	out = out.Extension(parts[0], parts[1], id.Names[0])
	for i, t := range parts[2:] {
		out = out.Child(t, id.Names[i+1])
	}
	return out
}

// notServed is the 404 for a path of a known type that names nothing mint serves (a list of a
// type that has no list, a resource where only a list exists).
func notServed(r *http.Request) *Error {
	return NewError(http.StatusNotFound, "NotFound", "No HTTP resource was found that matches the request URI '"+r.URL.Path+"'.")
}

// parentNotFound is ARM's 404 for a nested resource whose parent does not exist.
func parentNotFound(parent armid.ResourceID) *Error {
	return NewError(http.StatusNotFound, "ParentResourceNotFound", fmt.Sprintf(
		"Can not perform requested operation on nested resource. Parent resource '%s' not found.", strings.Join(parent.Names, "/")))
}

// getResource reads a resource, telling "absent" from failure.
func getResource(c *call, id string) (store.Resource, bool, error) {
	r, err := c.s.st.GetResource(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Resource{}, false, nil
	}
	if err != nil {
		return store.Resource{}, false, err
	}
	return r, true, nil
}

// tenantOf returns the tenant of the subscription (where its managed identities live).
func tenantOf(c *call, subscriptionID string) (string, error) {
	sub, err := c.s.st.GetSubscription(c.ctx, subscriptionID)
	if err != nil {
		return "", fmt.Errorf("subscription %s: %w", subscriptionID, err)
	}
	return sub.TenantID, nil
}

// objectProperties checks that raw is a JSON object (or absent/null, giving {}) and returns it
// compacted.
func objectProperties(raw json.RawMessage) (json.RawMessage, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`), nil
	}
	if raw[0] != '{' {
		return nil, InvalidRequestContent("The properties of the resource must be a JSON object. Path 'properties'")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, InvalidRequestContent(err.Error())
	}
	return buf.Bytes(), nil
}

// keyedLocks serializes writes to one resource within this process (a read-modify-write of an
// identity block, the count and uniqueness checks of an identity's federated credentials). It is
// a fixed set of mutexes picked by a hash of the lower-cased id, so it never grows; two ids may
// share a mutex, which only costs a little concurrency. A handler takes at most one.
type keyedLocks struct {
	mu [64]sync.Mutex
}

func (l *keyedLocks) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(id)))
	m := &l.mu[h.Sum32()%uint32(len(l.mu))]
	m.Lock()
	return m.Unlock
}

// serveTracked answers the methods on the one resource of resourceType at c.id: GET (out is its
// body) and HEAD read it; PUT, PATCH and DELETE run under its write lock.
func serveTracked(c *call, resourceType string, locks *keyedLocks, out func(store.Resource) any, put, patch func(*call)) {
	switch c.r.Method {
	case http.MethodGet:
		if r, ok := lookupTracked(c, resourceType); ok {
			c.json(http.StatusOK, out(r))
		}
	case http.MethodHead: // CheckExistenceByID
		if _, ok := lookupTracked(c, resourceType); ok {
			WriteEmpty(c.w, c.r, http.StatusNoContent)
		}
	case http.MethodPut:
		defer locks.lock(c.id.String())()
		put(c)
	case http.MethodPatch:
		defer locks.lock(c.id.String())()
		patch(c)
	case http.MethodDelete:
		defer locks.lock(c.id.String())()
		deleteTracked(c, resourceType)
	default:
		c.fail(MethodNotAllowed(c.r.Method))
	}
}

// lookupTracked reads the resource of resourceType at c.id; where there is none (or one of
// another type) it answers 404 and reports false.
func lookupTracked(c *call, resourceType string) (store.Resource, bool) {
	r, found, err := getResource(c, c.id.String())
	switch {
	case err != nil:
		c.failErr(err)
		return r, false
	case !found || !strings.EqualFold(r.Type, resourceType):
		c.fail(ResourceNotFound(c.id))
		return r, false
	}
	return r, true
}

// putTracked prepares r, the resource of type r.Type that a PUT at c.id writes, from the one it
// replaces, if any (returned, with found): that one's id and name as first spelled, creation time
// and location stay; the request's location may repeat it but not change it. A new resource takes
// the request's location, which it must have. It reports false when it has answered the request.
func putTracked(c *call, r *store.Resource, location *string) (existing store.Resource, found, ok bool) {
	existing, found, err := getResource(c, c.id.String())
	if err != nil {
		c.failErr(err)
		return existing, found, false
	}
	if !found {
		var e *Error
		if r.Location, e = requireLocation(location, r.Type); e != nil {
			c.fail(e)
			return existing, found, false
		}
		return existing, found, true
	}
	if !strings.EqualFold(existing.Type, r.Type) {
		c.fail(Conflict(fmt.Sprintf("The resource '%s' exists with another type.", c.id)))
		return existing, found, false
	}
	r.ID, r.Name, r.CreatedAt, r.Location = existing.ID, existing.Name, existing.CreatedAt, existing.Location
	if location != nil && normalizeLocation(*location) != existing.Location {
		c.fail(invalidResourceLocation(c.id.Name(), existing.Location, normalizeLocation(*location), c.id.ResourceGroup))
		return existing, found, false
	}
	return existing, found, true
}

// patchTags applies a PATCH's tags, if it has any, to r; false when they are invalid (answered).
func patchTags(c *call, r *store.Resource, tags *map[string]string) bool {
	if tags == nil {
		return true
	}
	checked, e := checkTags(*tags)
	if e != nil {
		c.fail(e)
		return false
	}
	r.Tags = checked
	return true
}

// deleteTracked deletes the resource of resourceType at c.id (the store takes what it owns with
// it): 200, or 204 when there is none.
func deleteTracked(c *call, resourceType string) {
	r, found, err := getResource(c, c.id.String())
	if err != nil {
		c.failErr(err)
		return
	}
	if !found || !strings.EqualFold(r.Type, resourceType) {
		WriteEmpty(c.w, c.r, http.StatusNoContent)
		return
	}
	if _, err := c.s.st.DeleteResource(c.ctx, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.failErr(err)
		return
	}
	WriteEmpty(c.w, c.r, http.StatusOK)
}
