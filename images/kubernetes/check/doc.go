// Package check validates the Kubernetes manifests in images/kubernetes
// (its tests do; the package has no code of its own). It is a module of
// its own so that the Kubernetes API types it decodes the manifests into
// stay out of the appliance's module graph; `make test` runs it.
//
// Each document is decoded strictly into its typed API object
// (k8s.io/api, sigs.k8s.io/yaml: an unknown or misspelt field is an
// error), the pod templates are evaluated with the upstream PodSecurity
// admission checks (k8s.io/pod-security-admission) at the level their
// namespace enforces, and references between objects (volumes, config
// maps, secrets, named ports, selectors, probes) must resolve.
package check
