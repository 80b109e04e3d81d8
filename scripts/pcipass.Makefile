# pcipass's `make dynconfig` for a kdevops-style top-level Makefile.
#
# Include it, add $(DYNAMIC_KCONFIG) to the prerequisites of every target
# that runs a Kconfig tool (menuconfig, olddefconfig, defconfig-*, ...) and
# source Kconfig.passthrough from the top-level Kconfig:
#
#   include path/to/pcipass/scripts/pcipass.Makefile
#   menuconfig: $(DYNAMIC_KCONFIG)
#   	kconfig-mconf Kconfig
#
# Scanning the host needs the user's consent, so only two targets run
# pcipass on the host:
#   make dynconfig      scan, write $(PCIPASS_GENERATED), then `make menuconfig`
#   make dynconfig-pci  scan and write $(PCIPASS_GENERATED) only
# Every other path merely creates an empty $(PCIPASS_GENERATED) when there
# is none, so that the Kconfig tools can parse the tree without a scan.
#
# Variables (override on the command line or before the include):
#   PCIPASS               the pcipass binary
#   PCIPASS_SOURCE_ARGS   where pcipass reads devices: --sysfs-root DIR,
#                         -c URI or --lspci FILE (default: this host's /sys)
#   PCIPASS_KCONFIG_ARGS  extra `pcipass kconfig` options (--include-host-devices)
#   PCIPASS_GENERATED     the dynamic Kconfig, where the static menu sources it
#   PCIPASS_MENU          the static menu; made with `pcipass kconfig --menu`
#                         when missing (a project may keep its own copy)
#   PCIPASS_MENUCONFIG    the target `make dynconfig` runs after the scan
#
# At bringup, pcipass reads the choices back from .config, plans, binds the
# devices to vfio-pci and adds their <hostdev> to each guest. Make it a
# prerequisite of the includer's bringup, after the guests' XML exists:
#
#   bringup: $(GUEST_XML_FILES) pcipass-bringup
#
#   make pcipass-plan     print which device goes to which guest; changes nothing
#   make pcipass-bringup  run `pcipass bringup` (twice changes nothing)
#
#   PCIPASS_CONFIG        the .config to read (default .config)
#   PCIPASS_NODES         kdevops' nodes file naming the guests (default
#                         kdevops_nodes.yaml when it exists)
#   PCIPASS_GUESTS        the guests, NAME,NAME,..., instead of a nodes file
#   PCIPASS_BRINGUP_ARGS  where the guests are and how: --xml-dir DIR (XML
#                         files before define), -c URI (defined domains),
#                         --dry-run, --no-bind, --whole-groups

# Rules below must not become the includer's default goal.
pcipass_default_goal := $(.DEFAULT_GOAL)

PCIPASS ?= pcipass
PCIPASS_SOURCE_ARGS ?=
PCIPASS_KCONFIG_ARGS ?=
PCIPASS_GENERATED ?= Kconfig.passthrough_libvirt.generated
PCIPASS_MENU ?= Kconfig.passthrough
PCIPASS_MENUCONFIG ?= menuconfig

DYNAMIC_KCONFIG += $(PCIPASS_MENU) $(PCIPASS_GENERATED)
KDEVOPS_MRPROPER += $(PCIPASS_GENERATED)
HELP_TARGETS += pcipass-dynconfig-help

# The default path: no scan, an empty file that offers no devices.
$(PCIPASS_GENERATED):
	@touch $@

$(PCIPASS_MENU):
	$(PCIPASS) kconfig --menu -o $@

# The consent steps. pcipass writes atomically: when it fails, the previous
# generated file stays as it was.
dynconfig-pci:
	$(PCIPASS) $(PCIPASS_SOURCE_ARGS) kconfig $(PCIPASS_KCONFIG_ARGS) -o $(PCIPASS_GENERATED) \
		$(if $(wildcard $(PCIPASS_CONFIG)),--config $(PCIPASS_CONFIG))

dynconfig: dynconfig-pci
	$(MAKE) $(PCIPASS_MENUCONFIG)

PCIPASS_CONFIG ?= .config
PCIPASS_NODES ?= $(wildcard kdevops_nodes.yaml)
PCIPASS_GUESTS ?=
PCIPASS_BRINGUP_ARGS ?=
pcipass_plan_args = --config $(PCIPASS_CONFIG) $(if $(PCIPASS_NODES),--nodes $(PCIPASS_NODES)) \
	$(if $(PCIPASS_GUESTS),--guests $(PCIPASS_GUESTS)) \
	$(if $(wildcard $(PCIPASS_GENERATED)),--generated $(PCIPASS_GENERATED))

pcipass-plan:
	$(PCIPASS) $(PCIPASS_SOURCE_ARGS) plan $(pcipass_plan_args)

pcipass-bringup:
	$(PCIPASS) $(PCIPASS_SOURCE_ARGS) bringup $(pcipass_plan_args) $(PCIPASS_BRINGUP_ARGS)

pcipass-dynconfig-help:
	@echo "dynconfig          - scan this host's PCI devices for passthrough, then menuconfig"
	@echo "dynconfig-pci      - only scan, writing $(PCIPASS_GENERATED)"
	@echo "pcipass-plan       - show which passthrough device goes to which guest"
	@echo "pcipass-bringup    - bind the planned devices to vfio-pci, add them to the guests"

.PHONY: dynconfig dynconfig-pci pcipass-dynconfig-help pcipass-plan pcipass-bringup

.DEFAULT_GOAL := $(pcipass_default_goal)
