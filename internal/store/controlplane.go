package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ControlPlane is the state behind the ARM-shaped management endpoint: resource groups, the
// resources in them (user-assigned identities, compute-like resources carrying identities,
// federated credentials, vaults ...), custom role definitions, role assignments and the activity
// log.
type ControlPlane interface {
	ResourceGroups
	Resources
	RoleDefinitions
	RoleAssignments
	ActivityLog
}

type ResourceGroup struct {
	SubscriptionID string
	Name           string // as created; looked up case-insensitively
	Location       string
	Tags           map[string]string
	ManagedBy      string
	CreatedAt      time.Time
}

type ResourceGroups interface {
	// PutResourceGroup creates the group or replaces location/tags/managedBy of an existing one
	// (keeping its name's original case and CreatedAt); created tells which.
	PutResourceGroup(ctx context.Context, g ResourceGroup) (created bool, err error)
	GetResourceGroup(ctx context.Context, subscriptionID, name string) (ResourceGroup, error)
	ListResourceGroups(ctx context.Context, subscriptionID string) ([]ResourceGroup, error)
	// DeleteResourceGroup deletes the group and, in the same transaction, every resource in it,
	// every principal those resources own (Resource.PrincipalID), and every role assignment
	// scoped at or below the group. It returns the deleted resources.
	DeleteResourceGroup(ctx context.Context, subscriptionID, name string) ([]Resource, error)
}

// Resource is any ARM resource below a resource group, child resources included (a federated
// identity credential is a Resource whose ID is below its identity's). Properties are owned by
// the provider that serves the type and stored as given.
type Resource struct {
	ID             string // canonical ARM id, names in their original case
	SubscriptionID string
	ResourceGroup  string
	Type           string // "Microsoft.ManagedIdentity/userAssignedIdentities", "Microsoft.Web/sites/slots"
	Name           string // last name segment
	Location       string
	Tags           map[string]string
	Properties     []byte // JSON
	// PrincipalID is the principal this resource owns: a user-assigned identity's own service
	// principal, or the system-assigned identity of a resource that has one. Deleting the
	// resource deletes it.
	PrincipalID string
	// UserAssignedIdentities are the ARM ids of the user-assigned identities attached.
	UserAssignedIdentities []string
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// ResourceFilter narrows ListResources; zero fields do not filter. Type matches exactly
// (case-insensitively), so children are listed by their own type.
type ResourceFilter struct {
	SubscriptionID string
	ResourceGroup  string
	Type           string
	// ParentID lists the direct and indirect children of a resource.
	ParentID string
	// AttachedIdentity lists the resources that have this user-assigned identity attached.
	AttachedIdentity string
	// After lists only the resources strictly after this cursor in the list order; it is a
	// ResourceCursor, "" for the start. A cursor ResourceCursor did not produce gives an error
	// wrapping ErrInvalidCursor.
	After string
	// Limit caps the number of resources returned; 0 means no limit.
	Limit int
}

// ErrInvalidCursor is wrapped by ListResources' error when ResourceFilter.After is not a cursor
// ResourceCursor produced.
var ErrInvalidCursor = errors.New("invalid cursor")

const resourceCursorPrefix = "r1:"

// ResourceCursor is the opaque position of r in ListResources' order (CreatedAt in UTC at
// microsecond precision, then the lower-cased id), to pass as ResourceFilter.After to list the
// resources after it.
func ResourceCursor(r Resource) string {
	return base64.RawURLEncoding.EncodeToString([]byte(
		resourceCursorPrefix + strconv.FormatInt(r.CreatedAt.UTC().Truncate(time.Microsecond).UnixMicro(), 10) + ":" + resourceKey(r.ID)))
}

// ParseResourceCursor decodes a ResourceCursor into the creation time (UTC, microseconds) and
// the id key (lower case, no trailing slash) of the row it names. Errors wrap ErrInvalidCursor.
func ParseResourceCursor(cursor string) (createdAt time.Time, idKey string, err error) {
	raw, ok := decodeCursor(cursor)
	if !ok || !strings.HasPrefix(string(raw), resourceCursorPrefix) {
		return time.Time{}, "", fmt.Errorf("%w %q", ErrInvalidCursor, truncateCursor(cursor))
	}
	us, key, ok := strings.Cut(string(raw[len(resourceCursorPrefix):]), ":")
	n, perr := strconv.ParseInt(us, 10, 64)
	if !ok || perr != nil || strconv.FormatInt(n, 10) != us || key == "" || key != resourceKey(key) {
		return time.Time{}, "", fmt.Errorf("%w %q", ErrInvalidCursor, truncateCursor(cursor))
	}
	return time.UnixMicro(n).UTC(), key, nil
}

// resourceKey folds a resource id as the stores key it: lower case, without trailing slashes.
func resourceKey(id string) string {
	k := strings.TrimRight(strings.ToLower(id), "/")
	if k == "" {
		return "/"
	}
	return k
}

type Resources interface {
	// PutResource creates or replaces a resource, and in the same transaction creates the
	// principals in create and deletes those in deletePrincipals (a user-assigned identity and
	// its principal are born together; disabling a system-assigned identity deletes its
	// principal). created tells whether the resource is new. ErrNotFound if the resource group
	// does not exist.
	PutResource(ctx context.Context, r Resource, create []ServicePrincipal, deletePrincipals []string) (created bool, err error)
	// GetResource finds a resource by id, case-insensitively.
	GetResource(ctx context.Context, id string) (Resource, error)
	// ListResources lists matching resources ordered by CreatedAt, then lower-cased id: those
	// after f.After, at most f.Limit of them.
	ListResources(ctx context.Context, f ResourceFilter) ([]Resource, error)
	// DeleteResource deletes the resource, its child resources, the principals they own and the
	// role assignments scoped at or below it, in one transaction, and returns what it deleted
	// (the resource first). ErrNotFound if it does not exist.
	DeleteResource(ctx context.Context, id string) ([]Resource, error)
}

// RoleDefinition is a custom role (built-in roles live in the rbac package, not in the store).
type RoleDefinition struct {
	ID               string // GUID name
	Scope            string // where it was created, e.g. /subscriptions/{id}
	RoleName         string // unique per tenant, case-insensitive
	Description      string
	AssignableScopes []string
	Permissions      []byte // JSON array of {actions, notActions, dataActions, notDataActions}
	CreatedAt        time.Time
	UpdatedAt        time.Time
	CreatedBy        string
	UpdatedBy        string
}

type RoleDefinitions interface {
	// PutRoleDefinition creates or replaces; ErrConflict when another definition has the name.
	PutRoleDefinition(ctx context.Context, d RoleDefinition) (created bool, err error)
	GetRoleDefinition(ctx context.Context, id string) (RoleDefinition, error)
	ListRoleDefinitions(ctx context.Context) ([]RoleDefinition, error)
	DeleteRoleDefinition(ctx context.Context, id string) error
}

type RoleAssignment struct {
	ID               string // GUID name, unique across the installation
	Scope            string // ARM scope as given ("/", "/subscriptions/..", ...)
	RoleDefinitionID string // GUID of the role definition
	PrincipalID      string
	PrincipalType    string // User, Group, ServicePrincipal, ForeignGroup, Device
	Description      string
	Condition        string
	ConditionVersion string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	CreatedBy        string
	UpdatedBy        string
}

// RoleAssignmentFilter narrows ListRoleAssignments. Scope rules:
//   - AtOrAbove: assignments whose scope is AtOrAbove or one of its ancestors ("/" included);
//   - Below: assignments whose scope is Below or a descendant of it.
//
// Both set means the union (ARM's unfiltered list at a scope). Comparisons are
// case-insensitive on path-segment boundaries.
type RoleAssignmentFilter struct {
	PrincipalID string
	AtOrAbove   string
	Below       string
	// After lists only the assignments strictly after this cursor in the list order (CreatedAt,
	// then id); it is a RoleAssignmentCursor, "" for the start. Anything else gives an error
	// wrapping ErrInvalidCursor.
	After string
	// Limit caps the number of assignments returned; 0 means no limit.
	Limit int
}

const roleAssignmentCursorPrefix = "a1:"

// RoleAssignmentCursor is the opaque position of a in ListRoleAssignments' order (CreatedAt in
// UTC at microsecond precision, then the lower-cased id), to pass as RoleAssignmentFilter.After.
func RoleAssignmentCursor(a RoleAssignment) string {
	return base64.RawURLEncoding.EncodeToString([]byte(
		roleAssignmentCursorPrefix + strconv.FormatInt(a.CreatedAt.UTC().Truncate(time.Microsecond).UnixMicro(), 10) + ":" + strings.ToLower(a.ID)))
}

// ParseRoleAssignmentCursor decodes a RoleAssignmentCursor into the creation time (UTC,
// microseconds) and the id key (lower case) of the assignment it names. Errors wrap
// ErrInvalidCursor.
func ParseRoleAssignmentCursor(cursor string) (createdAt time.Time, idKey string, err error) {
	raw, ok := decodeCursor(cursor)
	if !ok || !strings.HasPrefix(string(raw), roleAssignmentCursorPrefix) {
		return time.Time{}, "", fmt.Errorf("%w %q", ErrInvalidCursor, truncateCursor(cursor))
	}
	us, key, ok := strings.Cut(string(raw[len(roleAssignmentCursorPrefix):]), ":")
	n, perr := strconv.ParseInt(us, 10, 64)
	if !ok || perr != nil || strconv.FormatInt(n, 10) != us || key == "" || key != strings.ToLower(key) {
		return time.Time{}, "", fmt.Errorf("%w %q", ErrInvalidCursor, truncateCursor(cursor))
	}
	return time.UnixMicro(n).UTC(), key, nil
}

type RoleAssignments interface {
	// CreateRoleAssignment stores a new assignment. ErrConflict when the id exists or when an
	// assignment of the same role to the same principal exists at the same scope. ErrNotFound
	// when the scope is inside a resource group that does not exist (deleted meanwhile: the
	// assignment waits for a deletion of the group in flight, so it is never left behind it).
	CreateRoleAssignment(ctx context.Context, a RoleAssignment) error
	GetRoleAssignment(ctx context.Context, id string) (RoleAssignment, error)
	ListRoleAssignments(ctx context.Context, f RoleAssignmentFilter) ([]RoleAssignment, error)
	// ListRoleAssignmentsForPrincipal returns every assignment of a principal, for evaluation.
	ListRoleAssignmentsForPrincipal(ctx context.Context, principalID string) ([]RoleAssignment, error)
	// ListRoleAssignmentsForPrincipals returns every assignment of any of principalIDs (at most
	// MaxBatchIDs) in one read, ordered by CreatedAt then id: what evaluating a principal and its
	// groups needs, without a query per group.
	ListRoleAssignmentsForPrincipals(ctx context.Context, principalIDs []string) ([]RoleAssignment, error)
	// DeleteRoleAssignment deletes and returns the assignment.
	DeleteRoleAssignment(ctx context.Context, id string) (RoleAssignment, error)
}

// ActivityEvent is one Administrative activity-log entry: a control-plane write, or an attempt.
type ActivityEvent struct {
	ID             string // eventDataId
	OperationID    string
	CorrelationID  string
	Time           time.Time
	SubscriptionID string
	ResourceGroup  string
	ResourceID     string
	ResourceType   string
	OperationName  string // e.g. Microsoft.ManagedIdentity/userAssignedIdentities/write
	Status         string // Started, Succeeded, Failed
	SubStatus      string // Created, OK, NoContent, Forbidden ...
	HTTPStatus     int
	Caller         string // object id of the caller
	CallerAppID    string
	HTTPMethod     string
	Message        string // the error message of a failed attempt
}

// ActivityFilter narrows ListActivity; zero fields do not filter. Limit 0 means 100.
type ActivityFilter struct {
	SubscriptionID string
	ResourceGroup  string
	ResourceID     string // this resource and below
	Caller         string
	Since          time.Time
	Until          time.Time
	Limit          int
}

type ActivityLog interface {
	AppendActivity(ctx context.Context, events ...ActivityEvent) error
	// ListActivity returns events newest first.
	ListActivity(ctx context.Context, f ActivityFilter) ([]ActivityEvent, error)
	// PurgeActivity deletes at most limit events older than before, as PurgeSignIns.
	PurgeActivity(ctx context.Context, before time.Time, limit int) (int, error)
}

// PendingActivity is the activity-log entry of one control-plane write, carried in the write's
// context into the store: the first write transaction made with that context inserts the entry
// in the same transaction, so that the change and its entry commit together or not at all (the
// README promises every control-plane write is in the activity log). A store that cannot insert
// the entry fails the write. It is safe for concurrent use.
type PendingActivity struct {
	mu    sync.Mutex
	event ActivityEvent
	// createdStatus and otherStatus are the HTTP statuses the write answers when it created its
	// target and otherwise; the store records the one that applies.
	createdStatus, otherStatus int
	claimed, recorded          bool
	status                     int // of the claimed or recorded entry
}

type pendingActivityKey struct{}

// WithPendingActivity returns ctx carrying ev as the entry of the write the context is for.
// ev's Status, SubStatus and HTTPStatus are set when the store records it: Succeeded, with
// createdStatus when the write created its target and otherStatus otherwise.
func WithPendingActivity(ctx context.Context, ev ActivityEvent, createdStatus, otherStatus int) (context.Context, *PendingActivity) {
	p := &PendingActivity{event: ev, createdStatus: createdStatus, otherStatus: otherStatus}
	return context.WithValue(ctx, pendingActivityKey{}, p), p
}

// PendingActivityFrom returns the pending entry ctx carries, or nil.
func PendingActivityFrom(ctx context.Context) *PendingActivity {
	p, _ := ctx.Value(pendingActivityKey{}).(*PendingActivity)
	return p
}

// SetStatuses replaces the statuses the entry is recorded with, for a write whose answer is not
// the usual one (a role definition PUT answers 201 on an update too).
func (p *PendingActivity) SetStatuses(createdStatus, otherStatus int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.createdStatus, p.otherStatus = createdStatus, otherStatus
}

// Claim is for stores: it returns the entry to insert in the write transaction under way, and
// false when the entry was recorded (or is being recorded) by an earlier transaction. The store
// calls Done after the transaction ends, committed or not.
func (p *PendingActivity) Claim(created bool) (ActivityEvent, bool) {
	if p == nil {
		return ActivityEvent{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.claimed || p.recorded {
		return ActivityEvent{}, false
	}
	p.claimed = true
	ev := p.event
	ev.HTTPStatus = p.otherStatus
	if created {
		ev.HTTPStatus = p.createdStatus
	}
	ev.Status = "Succeeded"
	ev.SubStatus = http.StatusText(ev.HTTPStatus)
	p.status = ev.HTTPStatus
	return ev, true
}

// Done ends a Claim: committed tells whether the transaction holding the entry committed.
func (p *PendingActivity) Done(committed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claimed = false
	p.recorded = p.recorded || committed
}

// Recorded reports whether the entry was committed with a write, and the status it carries.
func (p *PendingActivity) Recorded() (bool, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.recorded {
		return false, 0
	}
	return true, p.status
}
