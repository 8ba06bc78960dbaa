// Package images holds no Go code of its own: its folders are the recipes
// that package the interdict binary (container image, Debian package and
// systemd unit, Kubernetes manifests, VM cloud-init). Its tests build and
// check each one here: the package installed into a throwaway root, the
// image built with buildah and run as its user, the unit verified by
// systemd-analyze, the user-data by cloud-init; the Kubernetes objects are
// checked by the module in kubernetes/check.
package images
