# kdevops-mini's model of kdevops' scripts/dynamic-kconfig.Makefile and
# scripts/dynamic-pci-kconfig.Makefile: the generated Kconfig is a
# prerequisite of every Kconfig run; only `make dynconfig` and
# `make dynconfig-pci` (the user's consent) scan the host, everything else
# merely creates an empty file.

DYNAMIC_KCONFIG :=
KDEVOPS_MRPROPER += Kconfig.passthrough_libvirt.generated

ifneq (,$(KDEVOPS_ENABLE_PCIE_KCONFIG))
DYNAMIC_KCONFIG += dynamic_pcipassthrough_kconfig
else
DYNAMIC_KCONFIG += dynamic_pcipassthrough_kconfig_touch
endif

Kconfig: $(DYNAMIC_KCONFIG)

dynamic_pcipassthrough_kconfig_touch:
	@touch Kconfig.passthrough_libvirt.generated

# kdevops runs its generator playbook here. The pcipass patch
# (docs/kdevops.md) makes pcipass the generator:
dynamic_pcipassthrough_kconfig: pcipass-kconfig

# The user interface dynconfig-pci opens after the scan. kdevops opens
# menuconfig; tests pass KCONFIG_UI=defconfig-NAME to choose without one.
KCONFIG_UI ?= menuconfig

dynconfig-pci:
	@$(MAKE) --no-print-directory $(KCONFIG_UI) KDEVOPS_ENABLE_PCIE_KCONFIG=1

dynconfig:
	@$(MAKE) --no-print-directory dynconfig-pci
	@$(MAKE) --no-print-directory cloud-config

# kdevops' dynconfig also refreshes its cloud provider menus.
cloud-config:
	@echo "cloud-config: nothing to refresh in kdevops-mini"

HELP_TARGETS += dynamic-kconfig-help
dynamic-kconfig-help:
	@echo "dynconfig          - scan this host for passthrough devices, then configure"
	@echo "dynconfig-pci      - the same, without the cloud step"

.PHONY: dynamic_pcipassthrough_kconfig_touch dynamic_pcipassthrough_kconfig dynconfig-pci \
	dynconfig cloud-config dynamic-kconfig-help
