package arm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/mint-id/mint/internal/arm/identityblock"
	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
)

// Compute-like resources: the resource types that carry an "identity" block (https://learn.microsoft.com/azure/templates/microsoft.web/sites#managedserviceidentity) and
// that workloads run as. mint does not run them; it keeps what ARM keeps (location, tags, the
// properties as given, the identities) so that the node agent can hand their identities to the
// processes started as them.
//
// Stored as a store.Resource: Properties is the request's properties object (without the
// read-only provisioningState), PrincipalID the system-assigned identity's principal (empty
// when disabled), UserAssignedIdentities the attached identities' ids.

// computeAPIVersions are the api-versions mint accepts per type: the ones the type's resource
// provider has published (stable and preview) in recent years. Every one gets the same shapes:
// location, tags, properties as given, identity.
var computeAPIVersions = map[string][]string{
	"Microsoft.App/containerApps": {
		"2022-01-01-preview", "2022-03-01", "2022-06-01-preview", "2022-10-01", "2022-11-01-preview",
		"2023-04-01-preview", "2023-05-01", "2023-05-02-preview", "2023-08-01-preview", "2023-11-02-preview",
		"2024-02-02-preview", "2024-03-01", "2024-08-02-preview", "2024-10-02-preview", "2025-01-01",
		"2025-02-02-preview", "2025-07-01", "2025-10-02-preview",
	},
	"Microsoft.Web/sites":       webAPIVersions,
	"Microsoft.Web/sites/slots": webAPIVersions,
	"Microsoft.Compute/virtualMachines": {
		"2017-12-01", "2018-04-01", "2018-06-01", "2018-10-01", "2019-03-01", "2019-07-01", "2019-12-01",
		"2020-06-01", "2020-12-01", "2021-03-01", "2021-04-01", "2021-07-01", "2021-11-01", "2022-03-01",
		"2022-08-01", "2022-11-01", "2023-03-01", "2023-07-01", "2023-09-01", "2024-03-01", "2024-07-01",
		"2024-11-01", "2025-04-01",
	},
	"Microsoft.ContainerInstance/containerGroups": {
		"2018-10-01", "2019-12-01", "2020-11-01", "2021-03-01", "2021-07-01", "2021-09-01", "2021-10-01",
		"2022-09-01", "2022-10-01-preview", "2023-02-01-preview", "2023-05-01", "2024-05-01-preview",
		"2024-09-01-preview", "2024-10-01-preview", "2024-11-01-preview", "2025-09-01",
	},
}

var webAPIVersions = []string{
	"2016-08-01", "2018-02-01", "2018-11-01", "2019-08-01", "2020-06-01", "2020-09-01", "2020-10-01",
	"2020-12-01", "2021-01-01", "2021-01-15", "2021-02-01", "2021-03-01", "2022-03-01", "2022-09-01",
	"2023-01-01", "2023-12-01", "2024-04-01", "2024-11-01", "2025-03-01",
}

// computeTypes maps each lower-case compute-like type to its canonical spelling.
var computeTypes = func() map[string]string {
	m := map[string]string{}
	for t := range computeAPIVersions {
		m[strings.ToLower(t)] = t
	}
	return m
}()

func (s *Server) registerComputeLike() {
	locks := &keyedLocks{}
	for t, versions := range computeAPIVersions {
		s.register(&computeProvider{resourceType: t, versions: versions, locks: locks}, t)
	}
}

// ComputeResource is the wire shape of a compute-like resource.
type ComputeResource struct {
	ID         string                  `json:"id"`
	Name       string                  `json:"name"`
	Type       string                  `json:"type"`
	Location   string                  `json:"location"`
	Tags       map[string]string       `json:"tags,omitempty"`
	Properties json.RawMessage         `json:"properties"`
	Identity   *identityblock.Identity `json:"identity,omitempty"`
}

// computeRequest is a PUT or PATCH body.
type computeRequest struct {
	Location   *string                `json:"location"`
	Tags       *map[string]string     `json:"tags"`
	Properties json.RawMessage        `json:"properties"`
	Identity   *identityblock.Request `json:"identity"`
}

type computeProvider struct {
	resourceType string // canonical, e.g. "Microsoft.Web/sites/slots"
	versions     []string
	locks        *keyedLocks
}

func (p *computeProvider) apiVersions() []string { return p.versions }

// child reports whether the type is nested in another (sites/slots).
func (p *computeProvider) child() bool { return strings.Count(p.resourceType, "/") > 1 }

func (p *computeProvider) serve(c *call) {
	if c.action != "" {
		c.fail(notServed(c.r))
		return
	}
	if c.collection {
		if c.r.Method != http.MethodGet {
			c.fail(MethodNotAllowed(c.r.Method))
			return
		}
		p.list(c)
		return
	}
	if scope, _ := c.id.Scope(); scope.IsResource() || c.id.ResourceGroup == "" {
		c.fail(notServed(c.r)) // an extension on another resource, or outside a group
		return
	}
	c.id = canonicalResourceID(c.id, p.resourceType)
	out := func(r store.Resource) any { return p.out(newIdentityResolver(c), r) }
	// A DELETE removes the resource, its children, and the system-assigned principals they own;
	// user-assigned identities attached to it are not touched.
	serveTracked(c, p.resourceType, p.locks, out, p.put, p.patch)
}

// stateOf is a stored resource's identities.
func stateOf(r store.Resource) identityblock.State {
	return identityblock.State{System: r.PrincipalID != "", UserAssigned: r.UserAssignedIdentities}
}

func (p *computeProvider) put(c *call) {
	for _, n := range c.id.Names {
		if err := armid.ValidateResourceName(n); err != nil {
			c.failErr(err)
			return
		}
	}
	var req computeRequest
	if !c.decode(&req) {
		return
	}
	props, e := objectProperties(req.Properties)
	if e != nil {
		c.fail(e)
		return
	}
	var tags map[string]string
	if req.Tags != nil {
		if tags, e = checkTags(*req.Tags); e != nil {
			c.fail(e)
			return
		}
	}
	if p.child() {
		parent, _ := c.id.Parent()
		pr, found, err := getResource(c, parent.String())
		if err != nil {
			c.failErr(err)
			return
		}
		if !found || !strings.EqualFold(pr.Type, parent.ResourceType()) {
			c.fail(parentNotFound(parent))
			return
		}
	}
	now := c.s.cfg.Clock().UTC()
	r := store.Resource{
		ID: c.id.String(), SubscriptionID: c.id.SubscriptionID, ResourceGroup: c.id.ResourceGroup,
		Type: p.resourceType, Name: c.id.Name(), Tags: tags, Properties: withoutProvisioningState(props),
		CreatedAt: now, UpdatedAt: now,
	}
	existing, found, ok := putTracked(c, &r, req.Location)
	if !ok {
		return
	}
	current := identityblock.State{}
	if found {
		r.PrincipalID, r.UserAssignedIdentities = existing.PrincipalID, existing.UserAssignedIdentities
		current = stateOf(existing)
	}
	// A PUT replaces the identities with what it sends; a PUT without an identity block keeps
	// them (deleting a system-assigned principal is not undoable, so mint wants it said).
	ch := identityblock.Change{New: current}
	if req.Identity != nil {
		var err error
		if ch, err = identityblock.Apply(current, *req.Identity, false); err != nil {
			c.failErr(err)
			return
		}
	}
	p.save(c, r, ch)
}

func (p *computeProvider) patch(c *call) {
	r, ok := lookupTracked(c, p.resourceType)
	if !ok {
		return
	}
	var req computeRequest
	if !c.decode(&req) || !patchTags(c, &r, req.Tags) {
		return
	}
	if raw := bytes.TrimSpace(req.Properties); len(raw) > 0 && string(raw) != "null" {
		if raw[0] != '{' {
			c.fail(InvalidRequestContent("The properties of the resource must be a JSON object. Path 'properties'"))
			return
		}
		merged, err := mergePatch(r.Properties, raw)
		if err != nil {
			c.fail(InvalidRequestContent(err.Error()))
			return
		}
		r.Properties = withoutProvisioningState(merged)
	}
	ch := identityblock.Change{New: stateOf(r)}
	if req.Identity != nil {
		var err error
		if ch, err = identityblock.Apply(stateOf(r), *req.Identity, true); err != nil {
			c.failErr(err)
			return
		}
	}
	r.UpdatedAt = c.s.cfg.Clock().UTC()
	p.save(c, r, ch)
}

// save checks and applies an identity change to r and writes it with the principals to create
// and delete, in one PutResource.
func (p *computeProvider) save(c *call, r store.Resource, ch identityblock.Change) {
	if len(ch.Attach) > 0 {
		// ARM checks the linked access before the resource provider sees the request.
		if !c.authorizeLinked(assignIdentityAction, ch.Attach) {
			return
		}
		for _, id := range ch.Attach {
			ua, found, err := getResource(c, id)
			if err != nil {
				c.failErr(err)
				return
			}
			if !found || !strings.EqualFold(ua.Type, userAssignedIdentityType) {
				c.fail(identityNotFound(c.id.String(), id))
				return
			}
			if props := identityProperties(ua); props.IsolationScope == "Regional" && ua.Location != r.Location {
				c.fail(NewError(http.StatusBadRequest, "FailedIdentityOperation", fmt.Sprintf(
					"The user assigned identity '%s' has isolation scope 'Regional' in location '%s' and cannot be assigned to a resource in location '%s'.",
					id, ua.Location, r.Location)))
				return
			}
		}
	}
	var create []store.ServicePrincipal
	var deletePrincipals []string
	if ch.DisableSystem && r.PrincipalID != "" {
		deletePrincipals = append(deletePrincipals, r.PrincipalID)
		r.PrincipalID = ""
	}
	if ch.EnableSystem {
		tenantID, err := tenantOf(c, c.id.SubscriptionID)
		if err != nil {
			c.failErr(err)
			return
		}
		sp := directory.NewManagedIdentityPrincipal(tenantID, p.principalName(c.id), miID(c.id))
		create = append(create, sp)
		r.PrincipalID = sp.ObjectID
	}
	r.UserAssignedIdentities = ch.New.UserAssigned
	created, err := c.s.st.PutResource(c.ctx, r, create, deletePrincipals)
	if err != nil {
		c.failErr(err)
		return
	}
	status := http.StatusOK
	if created {
		// No Location header: the SDKs treat these PUTs as long-running and would poll it; a
		// body with provisioningState Succeeded completes their pollers at once.
		status = http.StatusCreated
	}
	c.json(status, p.out(newIdentityResolver(c), r))
}

// principalName is the display name of the system-assigned principal: the resource name, and
// "<app>/slots/<slot>" for a slot, as App Service names it.
func (p *computeProvider) principalName(id armid.ResourceID) string {
	if len(id.Names) == 2 && strings.EqualFold(p.resourceType, "Microsoft.Web/sites/slots") {
		return id.Names[0] + "/slots/" + id.Names[1]
	}
	return id.Name()
}

// identityNotFound is what ARM answers when a user-assigned identity being attached does not
// exist.
func identityNotFound(resourceID, identityID string) *Error {
	return NewError(http.StatusBadRequest, "FailedIdentityOperation", fmt.Sprintf(
		"Identity operation for resource '%s' failed with error 'Failed to perform resource identity operation. Status: 'BadRequest'. Response: '{\"error\":{\"code\":\"BadRequest\",\"message\":\"Resource '%s' was not found.\"}}'.'.",
		resourceID, identityID))
}

func (p *computeProvider) list(c *call) {
	f := store.ResourceFilter{Type: p.resourceType}
	if p.child() {
		parent := c.scope
		want := p.resourceType[:strings.LastIndex(p.resourceType, "/")]
		if !parent.IsResource() || !strings.EqualFold(parent.ResourceType(), want) {
			c.fail(notServed(c.r))
			return
		}
		pr, found, err := getResource(c, parent.String())
		if err != nil {
			c.failErr(err)
			return
		}
		if !found || !strings.EqualFold(pr.Type, want) {
			c.fail(parentNotFound(parent))
			return
		}
		f.ParentID = pr.ID
	} else {
		if c.scope.IsResource() || c.scope.SubscriptionID == "" {
			c.fail(notServed(c.r))
			return
		}
		f.SubscriptionID, f.ResourceGroup = c.scope.SubscriptionID, c.scope.ResourceGroup
	}
	rs, next, ok := c.resourcePage(f)
	if !ok {
		return
	}
	ir := newIdentityResolver(c)
	out := []ComputeResource{}
	for _, r := range rs {
		if c.canRead(p.resourceType, r.ID) {
			out = append(out, p.out(ir, r))
		}
	}
	WritePage(c.w, c.r, c.s.cfg.BaseURL, out, next)
}

func (p *computeProvider) out(ir *identityResolver, r store.Resource) ComputeResource {
	name := r.Name
	if id, err := armid.Parse(r.ID); err == nil && strings.EqualFold(p.resourceType, "Microsoft.Web/sites/slots") {
		name = strings.Join(id.Names, "/") // App Service names a slot "<app>/<slot>"
	}
	return ComputeResource{
		ID: r.ID, Name: name, Type: p.resourceType, Location: r.Location, Tags: r.Tags,
		Properties: withProvisioningState(r.Properties), Identity: ir.identity(r, p.resourceType),
	}
}

// identityResolver fills the read-only parts of identity blocks, remembering what it looked up
// so that a list reads each tenant and user-assigned identity once.
type identityResolver struct {
	c       *call
	tenants map[string]string
	uamis   map[string]*IdentityProperties
}

func newIdentityResolver(c *call) *identityResolver {
	return &identityResolver{c: c, tenants: map[string]string{}, uamis: map[string]*IdentityProperties{}}
}

// identity is r's identity block as resourceType's provider spells it; nil when r has none
// (Container Apps answer {"type":"None"} instead).
func (ir *identityResolver) identity(r store.Resource, resourceType string) *identityblock.Identity {
	st := stateOf(r)
	if st.Type() == identityblock.None {
		if strings.EqualFold(namespace(resourceType), "Microsoft.App") {
			return &identityblock.Identity{Type: identityblock.None.String()}
		}
		return nil
	}
	out := identityblock.NewIdentity(st, resourceType)
	if st.System {
		out.PrincipalID = r.PrincipalID
		t, ok := ir.tenants[r.SubscriptionID]
		if !ok {
			t, _ = tenantOf(ir.c, r.SubscriptionID)
			ir.tenants[r.SubscriptionID] = t
		}
		out.TenantID = t
	}
	for id, v := range out.UserAssignedIdentities {
		k := strings.ToLower(id)
		props, ok := ir.uamis[k]
		if !ok {
			if ua, found, err := getResource(ir.c, id); err == nil && found && strings.EqualFold(ua.Type, userAssignedIdentityType) {
				p := identityProperties(ua)
				props = &p
			}
			ir.uamis[k] = props
		}
		if props != nil { // a deleted identity stays listed, without ids
			v.PrincipalID, v.ClientID = props.PrincipalID, props.ClientID
		}
	}
	return &out
}

// withoutProvisioningState drops the read-only provisioningState from stored properties.
func withoutProvisioningState(props json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(props, &m) != nil {
		return json.RawMessage(`{}`)
	}
	for k := range m {
		if strings.EqualFold(k, "provisioningState") {
			delete(m, k)
		}
	}
	out, _ := json.Marshal(m)
	return out
}

// withProvisioningState adds provisioningState Succeeded to stored properties.
func withProvisioningState(props json.RawMessage) json.RawMessage {
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(props, &m)
	m["provisioningState"] = json.RawMessage(`"` + provisioningSucceeded + `"`)
	out, _ := json.Marshal(m)
	return out
}

// mergePatch applies a JSON merge patch (RFC 7386) to target: objects merge recursively, null
// removes a member, anything else replaces.
func mergePatch(target, patch json.RawMessage) (json.RawMessage, error) {
	var t, p any
	if len(bytes.TrimSpace(target)) > 0 {
		if err := decodeNumbers(target, &t); err != nil {
			return nil, err
		}
	}
	if err := decodeNumbers(patch, &p); err != nil {
		return nil, err
	}
	return json.Marshal(mergeValue(t, p))
}

func decodeNumbers(data []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

func mergeValue(target, patch any) any {
	po, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	to, ok := target.(map[string]any)
	if !ok {
		to = map[string]any{}
	}
	for k, v := range po {
		if v == nil {
			delete(to, k)
			continue
		}
		to[k] = mergeValue(to[k], v)
	}
	return to
}
