# Starts one node of a Valkey/Redis Cluster: `sh -c "$(cat cluster-start.sh)" SERVER ARGS...`.
#
# A node's nodes.conf remembers its peers by IP address, and a pod's IP changes whenever it is
# recreated. One restarted node is found again by its peers (it reaches them, and they learn its
# new address), but after every pod restarted at once (a full stop, a node pool replaced) each
# would only know addresses that no longer exist. So, before the server starts, each peer's
# address is replaced by what the hostname it announced (cluster-announce-hostname: its stable
# pod DNS name) resolves to now. A peer that does not resolve yet keeps its old address.
set -eu
conf=${NODES_CONF:-/data/nodes.conf}
peers=${TMPDIR:-/tmp}/cluster-peers
if [ -s "$conf" ]; then
  for host in $(awk '$1 != "vars" && $3 !~ /myself/ { split($2, a, ","); if (a[2] != "") print a[2] }' "$conf"); do
    ip=$(getent hosts "$host" | awk '{ print $1; exit }') || true
    if [ -n "$ip" ]; then echo "$host $ip"; fi
  done > "$peers"
  # Field 2 is "ip:port@busport,hostname[,aux...]".
  awk 'FILENAME == ARGV[1] { ip[$1] = $2; next }
       $1 != "vars" {
         n = split($2, a, ",")
         if ((a[2] in ip) && match(a[1], /:[0-9]+@[0-9]+$/)) {
           a[1] = ip[a[2]] substr(a[1], RSTART)
           s = a[1]
           for (i = 2; i <= n; i++) s = s "," a[i]
           $2 = s
         }
       }
       { print }' "$peers" "$conf" > "$conf.new"
  mv -f "$conf.new" "$conf"
fi
exec "$0" "$@"
