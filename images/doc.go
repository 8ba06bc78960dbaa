// Package images holds no Go code of its own: its folders are the recipes
// that package the interdict binary (container image, VM unit and
// cloud-init, Kubernetes manifests). The file exists so that `go list`
// documents the folder.
package images
