// Package rbac is mint's Azure RBAC engine: role definitions, role assignments, and the decision
// "may principal P perform action A at scope S", with an explainer that says why not and what to
// assign instead.
//
// It is a pure core: functions of their inputs, no I/O, no clock, no logging. Role definitions and
// assignments are persisted by internal/store and served over ARM by internal/arm; this package
// only evaluates them. Index is an in-memory view of assignments for fast evaluation; it is a
// cache the caller fills, not a store.
//
// The evaluation follows Azure (https://learn.microsoft.com/azure/role-based-access-control/overview#how-azure-rbac-determines-if-a-user-has-access-to-a-resource): assignments are additive; a role grants
// a control-plane action when one of its permission blocks matches it in Actions and not in that
// same block's NotActions (DataActions/NotDataActions for data actions); NotActions subtract inside
// their own block only and are not denies; "*" in Actions never grants a data action; an
// assignment at a scope applies to that scope and everything below it.
//
// Where mint differs:
//   - ABAC conditions are not evaluated yet. An assignment (or a role's permission block) that
//     carries a condition grants nothing, and the decision says so. This fails closed: a condition
//     can only narrow a grant, so ignoring the grant is never more permissive than Azure.
//   - Deny assignments do not exist in mint. Group membership counts as in Azure, transitively:
//     the caller hands over the groups (Query.Groups), and a group's assignments count as its
//     members'.
//   - Management-group ancestry is not modelled: scopes are compared as paths, so an assignment at
//     /providers/Microsoft.Management/managementGroups/{mg} covers only ids under that path.
//   - Scope and action comparison fold ASCII letters only (ARM ids and action names are ASCII in
//     practice); other bytes compare exactly.
package rbac
