# Creates the Valkey/Redis Cluster once, and repairs what a lost volume leaves; safe to run on
# every install and upgrade. Environment: NODES (every node as host:port, space-separated),
# REPLICAS (replicas per primary), CLI (valkey-cli or redis-cli), REDIS_PASSWORD.
set -eu
cli() { "$CLI" -a "$REDIS_PASSWORD" --no-auth-warning "$@"; }
on() { node=$1; shift; cli -h "${node%:*}" -p "${node##*:}" "$@"; }
info() { on "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }
# `CLUSTER MEET` takes addresses, not names: every node by its current pod IP.
addr() { echo "$(getent hosts "${1%:*}" | awk '{ print $1; exit }'):${1##*:}"; }

for node in $NODES; do
  until on "$node" ping 2>/dev/null | grep -q PONG; do
    echo "waiting for $node"
    sleep 2
  done
done

# A node that serves slots means the cluster exists (created by an earlier run).
seed=''
for node in $NODES; do
  if [ "$(info "$node" cluster_slots_assigned)" -gt 0 ]; then
    seed=$node
    break
  fi
done

if [ -z "$seed" ]; then
  addresses=''
  for node in $NODES; do addresses="$addresses $(addr "$node")"; done
  echo "creating the cluster:$addresses"
  # shellcheck disable=SC2086 # one argument per address
  cli --cluster create $addresses --cluster-replicas "$REPLICAS" --cluster-yes
  seed=${NODES%% *}
else
  # A node that knows no other node lost its volume (or is new): it joins as a replica of
  # the primary with the fewest replicas.
  for node in $NODES; do
    if [ "$(info "$node" cluster_known_nodes)" = 1 ]; then
      echo "$node is empty and alone: adding it as a replica"
      cli --cluster add-node "$(addr "$node")" "$(addr "$seed")" --cluster-slave
    fi
  done
  # The identities those volumes held are left without an address: forget them everywhere.
  for id in $(on "$seed" cluster nodes | tr -d '\r' | awk '$3 ~ /noaddr/ { print $1 }'); do
    echo "forgetting $id (no address: its volume is gone)"
    for node in $NODES; do on "$node" cluster forget "$id" >/dev/null 2>&1 || true; done
  done
fi

# Done when every slot is served and every node agrees on it.
tries=0
until cli --cluster check "$(addr "$seed")"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "the cluster is not consistent; see \`$CLI --cluster check\` and \`--cluster fix\`" >&2
    exit 1
  fi
  sleep 2
done
