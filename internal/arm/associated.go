package arm

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mint-id/mint/internal/odata"
)

// The query of listAssociatedResources (POST {identity}/listAssociatedResources): $filter over
// the fields of an entry, $orderby, $skip, $top and $skiptoken, as documented at
// https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-view-associated-resources-for-an-identity
// ("type eq 'microsoft.web/sites' and contains(name, 'test')", "name asc"). Comparisons are
// case-insensitive (Azure answers from Resource Graph, whose eq on strings and contains are).
// Azure also accepts "or"; mint's OData reader knows only "and" and answers "or" with a 400
// rather than ignoring it.

// associatedFields maps the filterable and sortable fields, in lower case, to their values.
var associatedFields = map[string]func(AzureResource) string{
	"name":                    func(r AzureResource) string { return r.Name },
	"type":                    func(r AzureResource) string { return r.Type },
	"resourcegroup":           func(r AzureResource) string { return r.ResourceGroup },
	"subscriptionid":          func(r AzureResource) string { return r.SubscriptionID },
	"subscriptiondisplayname": func(r AzureResource) string { return r.SubscriptionDisplayName },
	"id":                      func(r AzureResource) string { return r.ID },
}

// associatedQuery is a parsed listAssociatedResources query.
type associatedQuery struct {
	filter []odata.Clause
	order  []associatedOrder
	skip   int
	top    int  // 0: the default page size
	count  bool // $top=0: only totalCount
}

type associatedOrder struct {
	field string
	desc  bool
}

func badAssociatedQuery(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf(format, args...))
}

// badAssociatedOrderBy words odata.ParseOrderByOf's refusal of the $orderby o in this API's
// messages: a property that is no name at all is as unknown as one that is.
func badAssociatedOrderBy(o string, err error) *Error {
	var oe *odata.OrderByError
	if !errors.As(err, &oe) {
		return badAssociatedQuery("The $orderby '%s' is invalid: %v.", o, err)
	}
	switch oe.Fault {
	case odata.OrderByBadProperty, odata.OrderByUnknownProperty:
		return badAssociatedQuery("The $orderby '%s' is invalid: '%s' is not one of name, type, resourceGroup, subscriptionId, subscriptionDisplayName.", o, oe.Token)
	case odata.OrderByBadDirection:
		return badAssociatedQuery("The $orderby '%s' is invalid: '%s' is neither asc nor desc.", o, oe.Token)
	case odata.OrderByTooLong:
		return badAssociatedQuery("The $orderby '%s' is invalid: it is longer than 1024 characters.", o)
	default:
		return badAssociatedQuery("The $orderby '%s' is invalid: write a field name, optionally followed by asc or desc.", o)
	}
}

// parseAssociatedQuery reads $filter, $orderby, $skip and $top.
func parseAssociatedQuery(q url.Values) (associatedQuery, *Error) {
	var out associatedQuery
	if f := q.Get("$filter"); f != "" {
		clauses, err := odata.Parse(f)
		if err != nil {
			return out, badAssociatedQuery("The $filter '%s' is invalid: %v.", f, err)
		}
		for _, c := range clauses {
			field := strings.ToLower(c.Name)
			op := c.Op
			if c.Kind == odata.Call {
				field, op = strings.ToLower(c.Property), strings.ToLower(c.Name)
			}
			if _, ok := associatedFields[field]; !ok || !c.Quoted || (c.Kind == odata.Compare && op != "eq") ||
				(c.Kind == odata.Call && op != "contains") || c.Kind == odata.Any {
				return out, badAssociatedQuery("The $filter '%s' is invalid: use eq or contains() on name, type, resourceGroup, subscriptionId or subscriptionDisplayName with a quoted value, joined by 'and'.", f)
			}
		}
		out.filter = clauses
	}
	if o := strings.TrimSpace(q.Get("$orderby")); o != "" {
		keys, err := odata.ParseOrderByOf(o, func(p string) bool {
			_, ok := associatedFields[strings.ToLower(p)]
			return ok
		})
		if err != nil {
			return out, badAssociatedOrderBy(o, err)
		}
		for _, k := range keys {
			out.order = append(out.order, associatedOrder{field: strings.ToLower(k.Property), desc: k.Desc})
		}
	}
	if s := q.Get("$skip"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return out, badAssociatedQuery("The value '%s' of the $skip query parameter is invalid. It must be a non-negative integer.", s)
		}
		out.skip = n
	}
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > MaxPageSize {
			return out, NewError(http.StatusBadRequest, CodeInvalidTopParameter, fmt.Sprintf(
				"The value '%s' of the $top query parameter is invalid. It must be an integer between 0 and %d.", t, MaxPageSize))
		}
		out.top, out.count = n, n == 0
	}
	return out, nil
}

// apply filters and orders all (totalCount is its length; paging walks it after $skip).
func (q associatedQuery) apply(all []AzureResource) []AzureResource {
	var out []AzureResource
	for _, r := range all {
		if q.matches(r) {
			out = append(out, r)
		}
	}
	order := append(q.order, associatedOrder{field: "id"}) // a stable order for paging
	slices.SortStableFunc(out, func(a, b AzureResource) int {
		for _, o := range order {
			get := associatedFields[o.field]
			c := cmp.Compare(strings.ToLower(get(a)), strings.ToLower(get(b)))
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

func (q associatedQuery) matches(r AzureResource) bool {
	for _, c := range q.filter {
		if c.Kind == odata.Call {
			if !strings.Contains(strings.ToLower(associatedFields[strings.ToLower(c.Property)](r)), strings.ToLower(c.Value)) {
				return false
			}
			continue
		}
		if !strings.EqualFold(associatedFields[strings.ToLower(c.Name)](r), c.Value) {
			return false
		}
	}
	return true
}
