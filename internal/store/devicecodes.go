package store

import (
	"context"
	"time"
)

// DeviceCodeState is where a device-code sign-in stands.
type DeviceCodeState string

const (
	DeviceCodePending  DeviceCodeState = "pending"
	DeviceCodeApproved DeviceCodeState = "approved"
	DeviceCodeDeclined DeviceCodeState = "declined"
	DeviceCodeRedeemed DeviceCodeState = "redeemed" // approved, and the tokens handed out
)

// DeviceCode is one device-code sign-in (RFC 8628), shared by every server: the client polls
// one, the person types the user code at another.
type DeviceCode struct {
	// DeviceCodeHash is the hex SHA-256 of the device code: the code itself, a bearer secret
	// until redeemed, is never stored.
	DeviceCodeHash string
	UserCode       string // what the person types, upper case, unique among stored codes
	ClientID       string
	ClientName     string
	Version        int    // the endpoint's version (1 or 2)
	TenantSegment  string // the authority's tenant segment (a tenant id, or organizations/common)
	Scope          string // v2
	Resource       string // v1
	ExpiresAt      time.Time
	State          DeviceCodeState
	UserID         string // the person who approved
	TenantID       string
	AuthTime       time.Time
	CreatedAt      time.Time
}

// DeviceCodes keeps device-code sign-ins.
type DeviceCodes interface {
	// CreateDeviceCode stores a pending code, removing codes expired before c.CreatedAt;
	// ErrConflict if its hash or user code is taken.
	CreateDeviceCode(ctx context.Context, c DeviceCode) error
	// GetDeviceCodeByUserCode finds a code by its user code; ErrNotFound if none.
	GetDeviceCodeByUserCode(ctx context.Context, userCode string) (DeviceCode, error)
	// DecideDeviceCode moves a pending code not expired at now to approved (by userID of
	// tenantID, signed in at authTime) or declined; ErrNotFound when there is no such code.
	DecideDeviceCode(ctx context.Context, hash string, state DeviceCodeState, userID, tenantID string, authTime, now time.Time) error
	// PollDeviceCode returns the code as it stands; an approved one is marked redeemed in the
	// same step, so exactly one poll sees it approved. ErrNotFound if none.
	PollDeviceCode(ctx context.Context, hash string) (DeviceCode, error)
}
