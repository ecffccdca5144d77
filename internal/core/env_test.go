package core

import (
	"context"
	"strings"
	"testing"
)

// The registry's own settings come from the environment too, unless an option says.
func TestEnvironmentSetsGroupClusterWeight(t *testing.T) {
	t.Setenv("MICRO_REGISTRY_NACOS_GROUP", "env-group")
	t.Setenv("MICRO_REGISTRY_NACOS_CLUSTER", "env-cluster")
	t.Setenv("MICRO_REGISTRY_NACOS_WEIGHT", "2.5")
	t.Setenv("MICRO_REGISTRY_NACOS_NAMESPACE", "env-ns")
	s, err := NewSettings(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.group != "env-group" || s.cluster != "env-cluster" || s.weight != 2.5 || s.client.NamespaceId != "env-ns" {
		t.Fatalf("group %q cluster %q weight %v namespace %q", s.group, s.cluster, s.weight, s.client.NamespaceId)
	}
	ctx := context.WithValue(context.WithValue(context.WithValue(context.Background(), GroupKey{}, "g"), ClusterKey{}, "c"), WeightKey{}, 3.0)
	if s, err = NewSettings(Options{Context: ctx}); err != nil || s.group != "g" || s.cluster != "c" || s.weight != 3 {
		t.Fatalf("options in code did not win: %v %+v", err, s)
	}
	t.Setenv("MICRO_REGISTRY_NACOS_WEIGHT", "heavy")
	if _, err := NewSettings(Options{}); err == nil || !strings.Contains(err.Error(), `MICRO_REGISTRY_NACOS_WEIGHT="heavy" is not a number`) {
		t.Fatalf("a bad weight: %v", err)
	}
}
