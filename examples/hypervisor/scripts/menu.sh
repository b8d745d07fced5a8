#!/usr/bin/env bash
# Console menu for common hypervisor tasks.
set -euo pipefail
PS3="Choose an action: "
select action in "List VMs" "Start VM" "Stop VM" "Quit"; do
  case "$action" in
    "List VMs") virsh list --all ;;
    "Start VM") read -rp "VM name: " vm; virsh start "$vm" ;;
    "Stop VM") read -rp "VM name: " vm; virsh shutdown "$vm" ;;
    *) break ;;
  esac
done
