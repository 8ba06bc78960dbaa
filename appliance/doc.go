// Package appliance is the product: configuration, lifecycle, the wiring
// of inspect into netstack's flow handler, identities and policy, the admin
// API, metrics and the EVE sink. It is the only package that imports both
// inspect and netstack.
package appliance
