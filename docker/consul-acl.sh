#!/bin/sh
# compose's consul-acl: the ACL policies and tokens of the shop, with the secrets from
# docker/.env. Idempotent: it runs at every `compose up`.
set -eu
: "${CONSUL_HTTP_TOKEN:?}" "${CONSUL_AGENT_TOKEN:?}" "${CONSUL_SHOP_TOKEN:?}"
: "${CONSUL_PROMETHEUS_TOKEN:?}"

# Wait until the server has a leader and its ACL system answers.
tries=0
until consul acl token read -self >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -le 60 ] || { echo "consul-acl: Consul did not answer" >&2; exit 1; }
  sleep 1
done

policy() { # name rules
  consul acl policy read -name "$1" >/dev/null 2>&1 \
    || consul acl policy create -name "$1" -rules "$2" >/dev/null
}
token() { # policy secret
  CONSUL_HTTP_TOKEN="$2" consul acl token read -self >/dev/null 2>&1 \
    || consul acl token create -description "$1" -policy-name "$1" -secret "$2" >/dev/null
}

policy agent 'node_prefix "" { policy = "write" }
service_prefix "" { policy = "read" }'
policy shop 'service "users" { policy = "write" }
service "inventory" { policy = "write" }
service "orders" { policy = "write" }
service "gateway" { policy = "write" }
node_prefix "" { policy = "read" }
key_prefix "shop/config/" { policy = "read" }'
policy prometheus 'service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }'

token agent "$CONSUL_AGENT_TOKEN"
token shop "$CONSUL_SHOP_TOKEN"
token prometheus "$CONSUL_PROMETHEUS_TOKEN"
echo "consul-acl: the agent, shop and prometheus tokens are in place"
