#!/usr/bin/env bash
# Snapshot every running VM's disks to /var/lib/backups.
set -euo pipefail
for vm in $(virsh list --name); do
  virsh snapshot-create-as "$vm" "backup-$(date +%F)" --disk-only --atomic
done
