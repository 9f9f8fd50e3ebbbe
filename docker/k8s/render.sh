#!/usr/bin/env bash
# Render a Kubernetes environment of the shop as `kubectl apply -f -` takes it:
#
#   docker/k8s/render.sh ENVIRONMENT [REPOSITORY [TAG]]
#
# ENVIRONMENT is one of overlays/ (development, staging, production). REPOSITORY is
# where the shop's image is pulled from (e.g. ghcr.io/OWNER/shop); TAG, when given,
# replaces the overlay's own (the pipeline gives the commit SHA). The tests, the
# pipeline and docs/deploy.md all render through here.
#
# Why not `kubectl apply -k`: the ConfigMap shop-config is generated from the
# repository's config.yaml, which lies outside the kustomization's root, and kustomize
# reads such a file only with --load-restrictor LoadRestrictionsNone, which
# `kubectl apply -k` does not take. (A symlink is refused as well, and a kustomization at
# the repository's root cannot be used by one below it: kustomize sees a cycle.)
set -euo pipefail

usage() { echo "usage: $0 development|staging|production [REPOSITORY [TAG]]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 3 ]] || usage
here=$(cd "$(dirname "$0")" && pwd)
overlay="$here/overlays/$1"
[[ -f "$overlay/kustomization.yaml" ]] || usage
kubectl=${KUBECTL:-kubectl}

if [[ $# -eq 1 ]]; then
  exec "$kubectl" kustomize --load-restrictor LoadRestrictionsNone "$overlay"
fi

# The image, set by a kustomization of its own on top of the overlay (kustomize takes
# only relative paths to other kustomizations).
release=$(mktemp -d)
trap 'rm -rf "$release"' EXIT
cat > "$release/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$(realpath --relative-to="$release" "$overlay")]
images:
  - name: shop
    newName: $2
YAML
# Quoted: a SHA of digits alone would be a number.
if [[ $# -eq 3 ]]; then
  echo "    newTag: \"$3\"" >> "$release/kustomization.yaml"
fi
"$kubectl" kustomize --load-restrictor LoadRestrictionsNone "$release"
