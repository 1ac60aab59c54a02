#!/bin/sh
# Broker users for Strongbox, each with only the rights its role needs:
#   worker   drives the actor queues, takes requests, publishes events;
#   client   publishes requests and follows events: no right on the actor queues, the
#            request queue itself or the default exchange (which reaches every queue).
# Passwords come from the environment and are read by rabbitmqctl on stdin, never from
# its command line. Run it against a running broker (docker-compose.yml runs it once):
#   STRONGBOX_WORKER_PASSWORD=... STRONGBOX_CLIENT_PASSWORD=... sh config/rabbitmq/users.sh
# RABBITMQ_NODE picks the node (default: rabbitmqctl's own); STRONGBOX_NAMESPACE the prefix
# of the queues and exchanges (default strongbox); STRONGBOX_WORKER_USER and
# STRONGBOX_CLIENT_USER the names (default strongbox-worker, strongbox-client);
# STRONGBOX_VHOST the virtual host (default /).
set -eu
: "${STRONGBOX_WORKER_PASSWORD:?set STRONGBOX_WORKER_PASSWORD}"
: "${STRONGBOX_CLIENT_PASSWORD:?set STRONGBOX_CLIENT_PASSWORD}"
ns=$(printf '%s' "${STRONGBOX_NAMESPACE:-strongbox}" | sed 's/[.]/\\./g')  # a regex
worker=${STRONGBOX_WORKER_USER:-strongbox-worker}
client=${STRONGBOX_CLIENT_USER:-strongbox-client}
vhost=${STRONGBOX_VHOST:-/}

ctl() { rabbitmqctl ${RABBITMQ_NODE:+--node "$RABBITMQ_NODE"} -q "$@"; }
user() {  # create the user, or set its password if it exists
  if ctl list_users | cut -f1 | grep -qx "$1"; then
    printf '%s\n' "$2" | ctl change_password "$1" >/dev/null
  else
    printf '%s\n' "$2" | ctl add_user "$1" >/dev/null
  fi
}

ctl await_startup
user "$worker" "$STRONGBOX_WORKER_PASSWORD"
user "$client" "$STRONGBOX_CLIENT_PASSWORD"
# A connection's own exclusive queues: named by the server (amq.gen-...) or by aio-pika
# (amq_<32 hex>).
own='amq\.gen-.*|amq_[0-9a-f]{32}'
# configure, write, read. A worker owns its namespace, and sets rejected requests aside
# through the default exchange.
ctl set_permissions -p "$vhost" "$worker" \
  "^($ns\..*|$own)\$" "^($ns\..*|$own|amq\.default)\$" "^($ns\..*|$own)\$"
# A client declares only its own event queue, writes only to the request exchange (and
# binds its own queue), reads only events.
ctl set_permissions -p "$vhost" "$client" \
  "^($own)\$" "^($ns\.requests\.in|$own)\$" "^($ns\.events|$own)\$"
echo "users $worker and $client ready on vhost $vhost"
