#!/bin/bash
# Restore a vault backup on a server provisioned by deploy/ansible (run as root):
#
#   /opt/vault/app/deploy/restore.sh /var/lib/vault/backups/20260130T031500Z
#       into the vault's own database and data directory. Allowed only while they hold no
#       account and no blob (a freshly provisioned box): the vault is stopped, its empty
#       database dropped and created again, the snapshot restored, migrated and checked
#       (`manage.py vault_restore`), and the vault started.
#
#   /opt/vault/app/deploy/restore.sh SNAPSHOT --database NAME --data-dir DIR
#       into a new database NAME and a new directory DIR beside the running vault (a restore
#       test): nothing of the running vault is touched.
#
# With VAULT_BLOB_STORE=s3 in vault.env the blobs go into the configured bucket, which must be
# empty (vault_restore checks it before touching the database; docs/object-store.md); the data
# directory then only receives what the vault keeps beside its blobs.
#
# With a database on another host (DATABASE_URL=postgresql://vault@10.0.0.10:5432/vault?...,
# the multi-host inventory), the restore signs in with the vault's database password (the
# db_password credential, as the services do). This host cannot drop or create databases
# there: on the database host, create the empty database first, e.g.
#   runuser -u postgres -- dropdb vault; runuser -u postgres -- createdb --owner=vault vault
# (vault_restore refuses a database that holds tables, before touching anything).
#
# The restore runs as the vault's user with its settings (/etc/vault/vault.env) and its
# credentials, exactly as the services do. Users sign in with their old passwords only if
# /etc/vault/credentials/pepper is the pepper of the server that was backed up.
set -euo pipefail

usage() { echo "usage: $0 SNAPSHOT [--database NAME --data-dir DIR]" >&2; exit 2; }
[ $# -ge 1 ] || usage
snapshot=$(realpath -- "$1"); shift
database="" data_dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --database) database=${2:?}; shift 2 ;;
        --data-dir) data_dir=${2:?}; shift 2 ;;
        *) usage ;;
    esac
done
if { [ -n "$database" ] && [ -z "$data_dir" ]; } || { [ -z "$database" ] && [ -n "$data_dir" ]; }; then usage; fi
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -f "$snapshot/manifest.json" ] || { echo "$snapshot is not a vault snapshot (no manifest.json)" >&2; exit 1; }

cd /  # the postgres user cannot enter root's working directory
app=/opt/vault/app
# Overridable for the deploy tests only (tests/deploy/test_restore_script.py).
env_file=${VAULT_RESTORE_ENV_FILE:-/etc/vault/vault.env}
credentials=${VAULT_RESTORE_CREDENTIALS:-/etc/vault/credentials}
user=vault

setting() { # the value of NAME in vault.env (written by Ansible as NAME="value")
    sed -n "s/^$1=\"\(.*\)\"$/\1/p" "$env_file"
}

# DATABASE_URL is postgresql://USER@/NAME?host=SOCKET_DIR (one box) or
# postgresql://USER@HOST:PORT/NAME?sslmode=... (the database on another host).
url=$(setting DATABASE_URL)
url_part() { printf '%s\n' "$url" | sed -n "s#^postgresql://\([^@/]*\)@\([^/]*\)/\([^?]*\).*#\\$1#p"; }
owner=$(url_part 1)
db_host=$(url_part 2)
# The database's password, when the database is on another host (the db_password credential
# the multi-host inventory writes; empty on one box, where peer authentication needs none).
db_credential=()
if [ -s "$credentials/db_password" ]; then
    db_credential=(-p LoadCredential=db_password:"$credentials/db_password"
        --setenv=DB_PASSWORD_FILE="/run/credentials/vault-restore-$$.service/db_password")
elif [ -n "$db_host" ]; then
    echo "the database is on $db_host but $credentials/db_password is empty: run the Ansible play first" >&2
    exit 1
fi

psql_as_postgres() { runuser -u postgres -- psql --no-psqlrc --tuples-only --no-align --set=ON_ERROR_STOP=1 "$@"; }

in_place=false
if [ -z "$database" ]; then
    in_place=true
    database=$(url_part 3)
    data_dir=$(setting VAULT_DATA_DIR)
    [ -n "$database" ] && [ -n "$data_dir" ] || { echo "cannot read the database or data directory from $env_file" >&2; exit 1; }
fi
if [ -n "$db_host" ]; then
    echo "the database is on $db_host: restoring into its database $database, which must exist and be empty"
    echo "(on $db_host: runuser -u postgres -- createdb --owner=$owner --encoding=UTF8 --template=template0 $database)"
fi
if $in_place && [ -z "$db_host" ]; then
    users=$(psql_as_postgres --dbname="$database" --command \
        "SELECT CASE WHEN to_regclass('accounts_user') IS NULL THEN 0 ELSE (SELECT count(*) FROM accounts_user) END")
    if [ "$users" != 0 ]; then
        echo "database $database holds $users account(s): refusing to replace a vault in use" >&2
        echo "(restore into a new database with --database NAME --data-dir DIR instead)" >&2
        exit 1
    fi
fi
if $in_place; then
    if [ -d "$data_dir/blobs" ] && [ -n "$(ls -A "$data_dir/blobs")" ]; then
        echo "$data_dir/blobs is not empty: refusing to mix two vaults" >&2
        exit 1
    fi
    echo "stopping the vault"
    systemctl stop vault.target vault-web.socket vault-web.service 'vault-worker@*.service' vault-backup.timer
    if [ -z "$db_host" ]; then
        echo "dropping the empty database $database and creating it again"
        psql_as_postgres --command "DROP DATABASE \"$database\""
    fi
elif [ -e "$data_dir" ] && [ -n "$(ls -A "$data_dir")" ]; then
    echo "$data_dir is not empty" >&2
    exit 1
fi

if [ -z "$db_host" ]; then
    echo "creating database $database (owner $owner)"
    runuser -u postgres -- createdb --owner="$owner" --encoding=UTF8 --template=template0 "$database"
fi
install -d -o "$user" -g "$user" -m 0700 "$data_dir"

database_url=$(printf '%s\n' "$url" | sed "s#^\(postgresql://[^@/]*@[^/]*/\)[^?]*#\1$database#")
# An environment file of its own after vault.env: systemd lets EnvironmentFile= override
# Environment= (--setenv), and a later file override an earlier one.
overrides=$(mktemp /run/vault-restore.XXXXXX.env)
trap 'rm -f "$overrides"' EXIT
printf 'DATABASE_URL="%s"\nVAULT_DATA_DIR="%s"\n' "$database_url" "$data_dir" > "$overrides"
# The object store's secret, when the vault keeps one among its credentials (VAULT_BLOB_STORE=s3).
s3_credential=()
if [ -s "$credentials/s3_secret_key" ]; then
    s3_credential=(-p LoadCredential=s3_secret_key:"$credentials/s3_secret_key"
        --setenv=VAULT_S3_SECRET_KEY_FILE="/run/credentials/vault-restore-$$.service/s3_secret_key")
fi
echo "restoring $snapshot"
# The vault's user, settings and credentials, as its services run (systemd/vault-*.service).
systemd-run --quiet --wait --pipe --collect --unit="vault-restore-$$" \
    --uid="$user" --gid="$user" -p SupplementaryGroups=redis \
    -p WorkingDirectory="$app" -p EnvironmentFile="$env_file" -p EnvironmentFile="$overrides" \
    -p LoadCredential=secret_key:"$credentials/secret_key" \
    -p LoadCredential=pepper:"$credentials/pepper" \
    --setenv=SECRET_KEY_FILE="/run/credentials/vault-restore-$$.service/secret_key" \
    --setenv=VAULT_PEPPER_FILE="/run/credentials/vault-restore-$$.service/pepper" \
    "${s3_credential[@]}" "${db_credential[@]}" \
    /opt/vault/venv/bin/python "$app/manage.py" vault_restore "$snapshot"

if $in_place; then
    echo "starting the vault"
    systemctl start vault-web.socket vault.target vault-backup.timer
    echo "restored into the vault itself: database $database, data directory $data_dir"
else
    echo "restored beside the vault: database $database, data directory $data_dir (the running vault is unchanged)"
fi
