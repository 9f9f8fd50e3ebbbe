#!/bin/sh
# Write docker/.env (or the file named) from docker/.env.example, with a fresh random
# value for every empty entry: a UUID for Consul's tokens, 32 random bytes in hex for the
# rest. It never overwrites a file: secrets in use stay as they are.
set -eu
here=$(dirname "$0")
target=${1:-$here/.env}
if [ -e "$target" ]; then
  echo "$target exists; remove it first to make new secrets" >&2
  exit 1
fi
umask 077
random() { python3 -c "import secrets, uuid; print(uuid.uuid4() if '$1' == 'uuid' else secrets.token_hex(32))"; }
while IFS= read -r line; do
  case "$line" in
    CONSUL_*_TOKEN=) echo "$line$(random uuid)" ;;
    [A-Z]*=) echo "$line$(random hex)" ;;
    *) echo "$line" ;;
  esac
done < "$here/.env.example" > "$target"
echo "wrote $target" >&2
