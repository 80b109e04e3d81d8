# kdevops-mini's model of kdevops' scripts/guestfs.Makefile and its
# playbook: `make` writes the nodes file and each guest's files
# (scripts/gen_nodes.py); `make bringup` defines each guest from
# guestfs/NAME/NAME.xml, then attaches every guestfs/NAME/pcie_passthrough_*.xml
# with `virsh attach-device --config`, as kdevops does. Like kdevops, it
# leaves a guest that is defined already as it is.

KDEVOPS_NODES := guestfs/kdevops_nodes.yaml
LIBVIRT_URI ?= qemu:///system
GUEST_TEMPLATE ?= guest-template.xml

$(KDEVOPS_NODES) extra_vars.yaml &: .config $(GUEST_TEMPLATE)
	@python3 scripts/gen_nodes.py $(GUEST_TEMPLATE) .config

GUESTFS_BRINGUP_DEPS :=
GUESTFS_BRINGUP_DEPS += $(KDEVOPS_NODES)
# The pcipass patch (docs/kdevops.md): after the nodes, before define, with
# passthrough on or off (a per-device file left by an earlier make is
# refused either way).
GUESTFS_BRINGUP_DEPS += pcipass-bringup
pcipass-bringup: $(KDEVOPS_NODES)
# kdevops' .config names where it defines the guests (CONFIG_LIBVIRT_URI),
# which pcipass then reads too. This model has none: on a real host, pass
# PCIPASS_LIBVIRT_URI=$(LIBVIRT_URI); not with a simulated host, whose
# devices are not that libvirt's.

bringup_guestfs: $(GUESTFS_BRINGUP_DEPS)
	@for xml in guestfs/*/*.xml; do \
		name=$$(basename $$(dirname "$$xml")); \
		[ "$$xml" = "guestfs/$$name/$$name.xml" ] || continue; \
		if virsh -q -c $(LIBVIRT_URI) dominfo "$$name" >/dev/null 2>&1; then \
			echo "$$name is defined already: booted as it is"; continue; \
		fi; \
		virsh -q -c $(LIBVIRT_URI) define "$$xml" >/dev/null || exit 1; \
		echo "defined $$name"; \
		for dev in guestfs/$$name/pcie_passthrough_*.xml; do \
			[ -f "$$dev" ] && [ ! -L "$$dev" ] || continue; \
			virsh -q -c $(LIBVIRT_URI) attach-device "$$name" "$$dev" --config >/dev/null || exit 1; \
			echo "attached $$dev"; \
		done; \
	done

destroy_guestfs:
	@for xml in guestfs/*/*.xml; do \
		name=$$(basename $$(dirname "$$xml")); \
		[ "$$xml" = "guestfs/$$name/$$name.xml" ] || continue; \
		virsh -q -c $(LIBVIRT_URI) undefine "$$name" >/dev/null 2>&1 && echo "undefined $$name"; \
	done; true

.PHONY: bringup_guestfs destroy_guestfs
