//go:build tools

// Package tools pins the control-plane commands that tests/cluster/build.py builds,
// so that go.sum covers everything they import.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
