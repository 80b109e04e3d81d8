#!/usr/bin/env bash
# The Ansible collection (ansible/ansible_collections/pcipass/lab) on a fleet
# of two hypervisors: local connections, each pointed at its own copy of the
# simulated workstation, its own guests and its own journal. Checks that
# check mode changes nothing, a run changes both hosts, a second run reports
# changed=false, and a refusal fails the task with pcipass's message.
#
#   tests/ansible/run.sh PCIPASS PCIPASS_SIMHOST
#
# Exit codes: 0 passed, 1 failed, 77 skipped (no ansible-playbook).
set -euo pipefail
pcipass=$(realpath "$1")
simhost=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
command -v ansible-playbook >/dev/null || { echo "skipped: ansible-playbook is not installed"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
group=$(id -gn)
{
  cat <<VARS
hypervisors:
  vars:
    ansible_connection: local
    ansible_python_interpreter: $(command -v python3)
    pcipass_executable: $pcipass
    pcipass_devices: ["0000:02:00.0", "0000:06:00.0"]
    pcipass_bringup_options: [--technique, roundrobin, --no-bind, --xml-dir, "{{ guest_dir }}"]
    pcipass_permissions_group: $group
    pcipass_xml_dir: "{{ guest_dir }}"
  hosts:
VARS
  for host in lab1 lab2; do
    "$simhost" "$source_dir/tests/data/hosts/workstation.yaml" "$work/$host" >/dev/null
    printf 'root:x:0:\n%s:x:%s:\n' "$group" "$(id -g)" >"$work/$host/etc/group"
    for guest in "$host-a" "$host-b"; do
      mkdir -p "$work/$host/guestfs/$guest"
      sed "s|<name>[^<]*</name>|<name>$guest</name>|" "$source_dir/xml-templates/guest-q35.xml" \
        >"$work/$host/guestfs/$guest/$guest.xml"
    done
    cat <<HOST
    $host:
      pcipass_sysfs_root: $work/$host/sys
      guest_dir: $work/$host/guestfs
      pcipass_guests: [$host-a, $host-b]
HOST
  done
} >"$work/inventory.yml"

export ANSIBLE_COLLECTIONS_PATH=$source_dir/ansible ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP=$work/tmp \
  ANSIBLE_REMOTE_TEMP=$work/tmp ANSIBLE_HOME=$work/ansible-home ANSIBLE_RETRY_FILES_ENABLED=0
play() { ansible-playbook -i "$work/inventory.yml" --forks 2 "$@"; }
fail() { echo "FAILED: $*"; exit 1; }

before=$(cd "$work" && find lab1 lab2 -type f -exec sha256sum {} + | sort; find lab1 lab2 -exec stat -c '%n %a %G' {} + | sort)
play --check "$here/fleet.yml" -e expect_changed=true >"$work/check.log" || { cat "$work/check.log"; fail "check mode"; }
after=$(cd "$work" && find lab1 lab2 -type f -exec sha256sum {} + | sort; find lab1 lab2 -exec stat -c '%n %a %G' {} + | sort)
[[ $before == "$after" ]] || fail "check mode changed files"
echo "ok   check mode reports changes on both hosts and changes nothing"

play "$here/fleet.yml" -e expect_changed=true >"$work/run1.log" || { cat "$work/run1.log"; fail "first run"; }
for host in lab1 lab2; do
  grep -q "bus='0x02'" "$work/$host/guestfs/$host-a/$host-a.xml" || fail "$host-a did not get 02:00.0"
  grep -q "bus='0x06'" "$work/$host/guestfs/$host-b/$host-b.xml" || fail "$host-b did not get 06:00.0"
  grep -q "guests of .* + .* plus a 1 GiB margin" "$work/$host/etc/security/limits.d/90-pcipass-memlock.conf" ||
    fail "$host: the memlock limit does not count both guests"
  grep -Eq "^$host +: ok=[0-9]+ +changed=2 " "$work/run1.log" || { cat "$work/run1.log"; fail "$host: not changed=2"; }
done
echo "ok   one play prepares both hosts: guests edited, permissions granted, changed=2 each"

play "$here/fleet.yml" -e expect_changed=false >"$work/run2.log" || { cat "$work/run2.log"; fail "second run"; }
for host in lab1 lab2; do
  grep -Eq "^$host +: ok=[0-9]+ +changed=0 " "$work/run2.log" || { cat "$work/run2.log"; fail "$host: second run changed"; }
done
echo "ok   a second run reports changed=0 on both hosts"

play "$here/refused.yml" >"$work/refused.log" || { cat "$work/refused.log"; fail "refusal"; }
echo "ok   the host's own boot drive fails the task with pcipass's message and exit code 5"
echo "ok   detach and attach report changed once, then not; check mode refuses plan --write-extra-vars"
