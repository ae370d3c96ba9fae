package arm

import (
	"context"
	"strings"

	"github.com/mint-id/mint/internal/armid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/rbac"
)

// Microsoft.Authorization: role definitions (built-in and custom), role assignments at any scope,
// and mint's access explainer. The front door has authorized single-resource calls with the
// action ARM checks ({type}/read, /write, /delete at the target; role definitions are readable by
// everyone, see exemptFromFrontDoor); lists check their own permission at the scope.

// authorizationAPIVersions: 2022-04-01 is what armauthorization/v2 sends for role definitions and
// role assignments; the others are what az, PowerShell and older SDKs send. The shapes served do
// not differ between them for the operations mint implements.
var authorizationAPIVersions = []string{
	"2022-04-01",
	"2015-07-01",
	"2018-01-01-preview",
	"2018-07-01",
	"2018-09-01-preview",
	"2020-04-01-preview",
	"2020-08-01-preview",
	"2020-10-01-preview",
	"2021-04-01-preview",
	"2022-05-01-preview",
}

type authorizationProvider struct{ s *Server }

func (authorizationProvider) apiVersions() []string { return authorizationAPIVersions }

func (p authorizationProvider) serve(c *call) {
	switch {
	case strings.EqualFold(c.resourceType, roleDefinitionsType) && c.collection:
		p.s.serveRoleDefinitions(c)
	case strings.EqualFold(c.resourceType, roleDefinitionsType):
		p.s.serveRoleDefinition(c)
	case strings.EqualFold(c.resourceType, roleAssignmentsType) && c.collection:
		p.s.serveRoleAssignments(c)
	case strings.EqualFold(c.resourceType, roleAssignmentsType):
		p.s.serveRoleAssignment(c)
	case strings.EqualFold(c.resourceType, explainAccessType) && c.collection:
		p.s.serveExplainAccess(c)
	case strings.EqualFold(c.resourceType, denyAssignmentsType):
		p.s.serveDenyAssignments(c)
	default:
		c.fail(ResourceNotFound(c.id))
	}
}

func (s *Server) registerAuthorization() {
	s.register(authorizationProvider{s}, roleDefinitionsType, roleAssignmentsType, explainAccessType, denyAssignmentsType)
}

// EnsureOwner makes principalID (the mint admin application's service principal) Owner of the
// subscription, unless it already holds Owner there or above. It is idempotent and safe to run
// from several replicas at once.
func EnsureOwner(ctx context.Context, st Store, principalID, subscriptionID string) error {
	return authz.EnsureRole(ctx, st, principalID, rbac.OwnerRoleID, armid.Subscription(subscriptionID).String(),
		"mint: the admin application owns the subscription")
}
