package check

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// objects are the manifests' documents, decoded.
type objects struct {
	namespaces  map[string]*corev1.Namespace
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    []*corev1.Service
	deployments []*appsv1.Deployment
	daemonSets  []*appsv1.DaemonSet
	statefulSet []*appsv1.StatefulSet
}

// load decodes every document of every manifest strictly.
func load(t *testing.T) *objects {
	t.Helper()
	files, err := filepath.Glob("../*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in images/kubernetes: %v", err)
	}
	o := &objects{namespaces: map[string]*corev1.Namespace{}, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			if err := o.add(doc); err != nil {
				t.Errorf("%s: document %d: %v", f, i, err)
			}
		}
	}
	return o
}

func (o *objects) add(doc []byte) error {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	// Field names are case-sensitive, as the API server reads them
	// (encoding/json would take readOnlyRootFileSystem for
	// readOnlyRootFilesystem); unknown and duplicate fields are errors.
	strict := func(v any) error {
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return err
		}
		serrs, err := kjson.UnmarshalStrict(j, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
		if err != nil {
			return err
		}
		return errors.Join(serrs...)
	}
	var name string
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		v := &corev1.Namespace{}
		if err := strict(v); err != nil {
			return err
		}
		name, o.namespaces[v.Name] = v.Name, v
	case "v1 ConfigMap":
		v := &corev1.ConfigMap{}
		if err := strict(v); err != nil {
			return err
		}
		name, o.configMaps[v.Namespace+"/"+v.Name] = v.Name, v
	case "v1 Secret":
		v := &corev1.Secret{}
		if err := strict(v); err != nil {
			return err
		}
		name, o.secrets[v.Namespace+"/"+v.Name] = v.Name, v
	case "v1 Service":
		v := &corev1.Service{}
		if err := strict(v); err != nil {
			return err
		}
		name, o.services = v.Name, append(o.services, v)
	case "apps/v1 Deployment":
		v := &appsv1.Deployment{}
		if err := strict(v); err != nil {
			return err
		}
		name, o.deployments = v.Name, append(o.deployments, v)
	case "apps/v1 StatefulSet":
		v := &appsv1.StatefulSet{}
		if err := strict(v); err != nil {
			return err
		}
		name, o.statefulSet = v.Name, append(o.statefulSet, v)
	case "apps/v1 DaemonSet":
		v := &appsv1.DaemonSet{}
		if err := strict(v); err != nil {
			return err
		}
		name, o.daemonSets = v.Name, append(o.daemonSets, v)
	default:
		return fmt.Errorf("unexpected %s %s", tm.APIVersion, tm.Kind)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%s name %q: %s", tm.Kind, name, strings.Join(errs, "; "))
	}
	return nil
}

// workload is a pod template and where it comes from.
type workload struct {
	kind, namespace, name string
	tmpl                  *corev1.PodTemplateSpec
	selector              map[string]string
	// claims are a StatefulSet's volume claim templates, mounted like
	// volumes.
	claims []string
}

func (o *objects) workloads() []workload {
	var out []workload
	for _, d := range o.deployments {
		out = append(out, workload{"Deployment", d.Namespace, d.Name, &d.Spec.Template, d.Spec.Selector.MatchLabels, nil})
	}
	for _, d := range o.daemonSets {
		out = append(out, workload{"DaemonSet", d.Namespace, d.Name, &d.Spec.Template, d.Spec.Selector.MatchLabels, nil})
	}
	for _, d := range o.statefulSet {
		var claims []string
		for _, c := range d.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		out = append(out, workload{"StatefulSet", d.Namespace, d.Name, &d.Spec.Template, d.Spec.Selector.MatchLabels, claims})
	}
	return out
}

// TestManifestsDecodeStrictly: every document is a known kind whose
// fields all exist in its API type; there is a hub Deployment, its UDP
// Service, a fleet StatefulSet and a TUN DaemonSet.
func TestManifestsDecodeStrictly(t *testing.T) {
	o := load(t)
	if len(o.deployments) != 1 || len(o.daemonSets) != 1 || len(o.statefulSet) != 1 {
		t.Fatalf("want one hub Deployment, one fleet StatefulSet and one TUN DaemonSet, have %d, %d and %d",
			len(o.deployments), len(o.statefulSet), len(o.daemonSets))
	}
	udp := false
	for _, s := range o.services {
		for _, p := range s.Spec.Ports {
			if p.Protocol == corev1.ProtocolUDP && p.Port == 51820 {
				udp = true
			}
		}
	}
	if !udp {
		t.Error("no Service exposes the hub's WireGuard port 51820/UDP")
	}
}

// TestPodSecurity evaluates each pod template with the upstream
// PodSecurity admission checks at the level its namespace enforces: the
// hub must pass "restricted". The TUN DaemonSet's namespace is
// privileged; it must still add no capability but NET_ADMIN and keep
// everything else locked down.
func TestPodSecurity(t *testing.T) {
	o := load(t)
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range o.workloads() {
		ns := o.namespaces[w.namespace]
		if ns == nil {
			t.Errorf("%s %s: namespace %q is not in the manifests", w.kind, w.name, w.namespace)
			continue
		}
		level := ns.Labels[psaapi.EnforceLevelLabel]
		lv, err := psaapi.ParseLevel(level)
		if err != nil {
			t.Errorf("namespace %s: %s=%q: %v", ns.Name, psaapi.EnforceLevelLabel, level, err)
			continue
		}
		res := policy.AggregateCheckResults(ev.EvaluatePod(psaapi.LevelVersion{Level: lv, Version: psaapi.LatestVersion()},
			&w.tmpl.ObjectMeta, &w.tmpl.Spec))
		if !res.Allowed {
			t.Errorf("%s %s violates PodSecurity %q: %s", w.kind, w.name, level, res.ForbiddenDetail())
		}
		if w.kind != "DaemonSet" && lv != psaapi.LevelRestricted {
			t.Errorf("%s %s: the hub's namespace enforces %q, want restricted", w.kind, w.name, level)
		}
		for _, c := range w.tmpl.Spec.Containers {
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil {
				t.Errorf("%s %s: container %s: want allowPrivilegeEscalation false, readOnlyRootFilesystem true, capabilities set", w.kind, w.name, c.Name)
				continue
			}
			if len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("%s %s: container %s drops %v, want ALL", w.kind, w.name, c.Name, sc.Capabilities.Drop)
			}
			for _, add := range sc.Capabilities.Add {
				if w.kind != "DaemonSet" || add != "NET_ADMIN" {
					t.Errorf("%s %s: container %s adds %s", w.kind, w.name, c.Name, add)
				}
			}
		}
	}
}

// TestReferencesResolve: volumes name ConfigMaps and Secrets of the
// manifests, mounts name volumes, probes and Services name ports the
// container has, Services select a workload's pods, probes hit the
// health endpoints and the scrape annotation the metrics port.
func TestReferencesResolve(t *testing.T) {
	o := load(t)
	for _, w := range o.workloads() {
		where := w.kind + " " + w.name
		spec := &w.tmpl.Spec
		for k, v := range w.selector {
			if w.tmpl.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the template's labels", where, k, v)
			}
		}
		vols := map[string]bool{}
		for _, c := range w.claims {
			vols[c] = true
		}
		for _, v := range spec.Volumes {
			vols[v.Name] = true
			if cm := v.ConfigMap; cm != nil && o.configMaps[w.namespace+"/"+cm.Name] == nil {
				t.Errorf("%s: volume %s: no ConfigMap %s/%s", where, v.Name, w.namespace, cm.Name)
			}
			if s := v.Secret; s != nil && o.secrets[w.namespace+"/"+s.SecretName] == nil {
				t.Errorf("%s: volume %s: no Secret %s/%s", where, v.Name, w.namespace, s.SecretName)
			}
		}
		for _, c := range spec.Containers {
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			port := func(p intstr.IntOrString) int32 {
				if p.Type == intstr.Int {
					return p.IntVal
				}
				n, ok := ports[p.StrVal]
				if !ok {
					t.Errorf("%s: container %s has no port named %q", where, c.Name, p.StrVal)
				}
				return n
			}
			for _, m := range c.VolumeMounts {
				if !vols[m.Name] {
					t.Errorf("%s: mount %s names no volume", where, m.Name)
				}
			}
			for probe, want := range map[*corev1.Probe]string{c.ReadinessProbe: "/readyz", c.LivenessProbe: "/healthz"} {
				if probe == nil || probe.HTTPGet == nil {
					t.Errorf("%s: container %s: want an HTTP %s probe", where, c.Name, want)
					continue
				}
				if probe.HTTPGet.Path != want {
					t.Errorf("%s: probe path %s, want %s", where, probe.HTTPGet.Path, want)
				}
				if got := fmt.Sprint(port(probe.HTTPGet.Port)); got != w.tmpl.Annotations["prometheus.io/port"] {
					t.Errorf("%s: probe port %s is not the scraped metrics port %s", where, got, w.tmpl.Annotations["prometheus.io/port"])
				}
			}
			if w.tmpl.Annotations["prometheus.io/scrape"] != "true" {
				t.Errorf("%s: no prometheus.io/scrape annotation", where)
			}
			if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: container %s: want memory requests and limits", where, c.Name)
			}
		}
		for _, s := range o.services {
			if s.Namespace != w.namespace || len(s.Spec.Selector) == 0 {
				continue
			}
			match := true
			for k, v := range s.Spec.Selector {
				if w.tmpl.Labels[k] != v {
					match = false
				}
			}
			if !match {
				continue
			}
			for _, p := range s.Spec.Ports {
				if p.TargetPort.Type == intstr.String {
					found := false
					for _, c := range spec.Containers {
						for _, cp := range c.Ports {
							found = found || (cp.Name == p.TargetPort.StrVal && cp.Protocol == p.Protocol)
						}
					}
					if !found {
						t.Errorf("Service %s: targetPort %s/%s is no container port of %s", s.Name, p.TargetPort.StrVal, p.Protocol, where)
					}
				}
			}
		}
	}
	for _, s := range o.services {
		selected := false
		for _, w := range o.workloads() {
			ok := w.namespace == s.Namespace
			for k, v := range s.Spec.Selector {
				ok = ok && w.tmpl.Labels[k] == v
			}
			selected = selected || ok
		}
		if !selected {
			t.Errorf("Service %s selects no workload", s.Name)
		}
	}
}
