package check

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// fleetConfig is the part of an appliance config the fleet's shape
// depends on.
type fleetConfig struct {
	StateDir string `json:"state_dir"`
	Cluster  struct {
		Backend  string `json:"backend"`
		Embedded struct {
			Listen string   `json:"listen"`
			Routes []string `json:"routes"`
		} `json:"embedded"`
	} `json:"cluster"`
}

// TestFleetStatefulSet: the StatefulSet's pods form one embedded NATS
// cluster. Its members start together (a member waits for a majority
// before it is ready), find each other through a headless Service that
// publishes pods before they are ready, route to exactly the pods the
// StatefulSet makes (by their stable DNS names, on the routes port the
// container opens), and keep JetStream's store on a claim.
func TestFleetStatefulSet(t *testing.T) {
	o := load(t)
	for _, ss := range o.statefulSet {
		where := "StatefulSet " + ss.Name
		n := int32(1)
		if ss.Spec.Replicas != nil {
			n = *ss.Spec.Replicas
		}
		if n < 3 {
			t.Errorf("%s: %d replicas, want 3 or more (R3 buckets)", where, n)
		}
		if ss.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
			t.Errorf("%s: podManagementPolicy %q, want Parallel: started in order the first member never sees a majority", where, ss.Spec.PodManagementPolicy)
		}
		var svc *corev1.Service
		for _, s := range o.services {
			if s.Namespace == ss.Namespace && s.Name == ss.Spec.ServiceName {
				svc = s
			}
		}
		if svc == nil {
			t.Fatalf("%s: serviceName %q is no Service of the manifests", where, ss.Spec.ServiceName)
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
			t.Errorf("Service %s: want clusterIP None and publishNotReadyAddresses true (members route before they are ready)", svc.Name)
		}
		cfg := fleetConfigOf(t, o, ss)
		if cfg.Cluster.Backend != "nats" {
			t.Fatalf("%s: cluster.backend %q, want nats", where, cfg.Cluster.Backend)
		}
		var routesPort int32
		for _, c := range ss.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == "routes" && p.Protocol == corev1.ProtocolTCP {
					routesPort = p.ContainerPort
				}
			}
		}
		if !strings.HasSuffix(cfg.Cluster.Embedded.Listen, fmt.Sprintf(":%d", routesPort)) || routesPort == 0 {
			t.Errorf("%s: cluster.embedded.listen %q is not the container's routes port %d", where, cfg.Cluster.Embedded.Listen, routesPort)
		}
		var want []string
		for i := range n {
			want = append(want, fmt.Sprintf("nats-route://%s-%d.%s.%s.svc.cluster.local:%d", ss.Name, i, svc.Name, ss.Namespace, routesPort))
		}
		if !slices.Equal(cfg.Cluster.Embedded.Routes, want) {
			t.Errorf("%s: cluster.embedded.routes\n%v\nwant every pod's stable name\n%v", where, cfg.Cluster.Embedded.Routes, want)
		}
		onClaim := false
		for _, c := range ss.Spec.Template.Spec.Containers {
			for _, m := range c.VolumeMounts {
				for _, claim := range ss.Spec.VolumeClaimTemplates {
					onClaim = onClaim || (m.Name == claim.Name && m.MountPath == cfg.StateDir)
				}
			}
		}
		if !onClaim {
			t.Errorf("%s: state_dir %q (JetStream's store) is not on a volume claim", where, cfg.StateDir)
		}
	}
}

// fleetConfigOf reads the appliance config of the ConfigMap the
// StatefulSet mounts.
func fleetConfigOf(t *testing.T, o *objects, ss *appsv1.StatefulSet) fleetConfig {
	t.Helper()
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		cm := o.configMaps[ss.Namespace+"/"+v.ConfigMap.Name]
		if cm == nil || cm.Data["config.yaml"] == "" {
			continue
		}
		var c fleetConfig
		if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &c); err != nil {
			t.Fatalf("ConfigMap %s: config.yaml: %v", cm.Name, err)
		}
		return c
	}
	t.Fatalf("StatefulSet %s mounts no ConfigMap with a config.yaml", ss.Name)
	return fleetConfig{}
}
