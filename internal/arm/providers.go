package arm

// registerProviders wires every resource type the management endpoint serves.
func (s *Server) registerProviders() {
	s.registerResourceManager()                                                  // subscriptions, resource groups, generic resource lists
	s.registerManagedIdentity()                                                  // Microsoft.ManagedIdentity
	s.registerComputeLike()                                                      // resources that carry an identity block
	s.registerAuthorization()                                                    // Microsoft.Authorization, access explainer
	s.registerInsights()                                                         // activity log
	s.registerKeyVault()                                                         // Microsoft.KeyVault/vaults
	s.register(resourceProvidersProvider{s}, providersType, tenantProvidersType) // provider metadata, derived from the above
}
