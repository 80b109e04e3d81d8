# pcipass targets for kdevops (or any Kconfig tree with kdevops' passthrough
# symbols). See docs/kdevops.md for the small patch that calls them from
# kdevops' own targets.
#
# Include it anywhere in the top-level Makefile:
#
#   include path/to/pcipass.Makefile      (/usr/share/pcipass/pcipass.Makefile)
#
# It defines only targets whose names start with pcipass- and reads only
# variables whose names start with PCIPASS_ (and kdevops' KDEVOPS_NODES and
# CONFIG_LIBVIRT_URI). It sets none
# of them and no variable or target of the includer, so it works before or
# after kdevops' own files, and the includer's default goal stays its own.
# Every variable is read when a recipe runs, so setting one after the
# include (or on the command line) works.
#
# Targets:
#   pcipass-kconfig   scan the host and write $(PCIPASS_GENERATED), numbering
#                     devices as kdevops' generator does and keeping every
#                     number a device already has. Scanning needs the user's
#                     consent: call it from the consent step only (kdevops:
#                     the recipe of its dynamic_pcipassthrough_kconfig, which
#                     only `make dynconfig` and `make dynconfig-pci` reach).
#                     pcipass writes atomically: when it fails, the previous
#                     file stays as it was.
#   pcipass-menu      write the static passthrough menu, $(PCIPASS_MENU), for a
#                     tree without kdevops' kconfigs/Kconfig.libvirt (kdevops
#                     has its own: never source both).
#   pcipass-plan      print which device goes to which guest; changes nothing
#   pcipass-bringup   before the guests are defined: check the plan (and
#                     kdevops' per-device files beside each guest's XML, and
#                     the guests defined already), bind
#                     the devices to vfio-pci, and add to each guest's XML the
#                     devices kdevops' own attach step does not bring. Running
#                     it again changes nothing.
#   pcipass-help      one line per target
#
# Variables (defaults in brackets):
#   PCIPASS               the pcipass program [pcipass]
#   PCIPASS_SOURCE_ARGS   where pcipass reads devices: --sysfs-root DIR, -c URI
#                         or --lspci FILE [this host's /sys]
#   PCIPASS_KCONFIG_ARGS  more `pcipass kconfig` options (--include-host-devices)
#   PCIPASS_GENERATED     the generated Kconfig [Kconfig.passthrough_libvirt.generated]
#   PCIPASS_MENU          the static menu of pcipass-menu [Kconfig.passthrough]
#   PCIPASS_CONFIG        the .config to read [.config]
#   PCIPASS_NODES         kdevops' nodes file naming the guests [$(KDEVOPS_NODES),
#                         else the first of guestfs/kdevops_nodes.yaml and
#                         kdevops_nodes.yaml that exists]
#   PCIPASS_GUESTS        the guests, NAME,NAME,..., instead of a nodes file
#   PCIPASS_XML_DIR       the guests' XML files, DIR/NAME/NAME.xml [guestfs when
#                         that folder exists, else the guests are libvirt
#                         domains already defined, -c URI in PCIPASS_SOURCE_ARGS]
#   PCIPASS_LIBVIRT_URI   the libvirt that defines the guests, read only: a
#                         device another guest holds, or a guest defined already
#                         with other devices (kdevops boots it as it is), is
#                         refused [kdevops' CONFIG_LIBVIRT_URI; none: not checked]
#   PCIPASS_BRINGUP_ARGS  more `pcipass bringup` options: --dry-run, --no-bind,
#                         --whole-groups, --follow-moved

pcipass_default_goal := $(.DEFAULT_GOAL)

pcipass_bin = $(or $(PCIPASS),pcipass)
pcipass_generated = $(or $(PCIPASS_GENERATED),Kconfig.passthrough_libvirt.generated)
pcipass_menu = $(or $(PCIPASS_MENU),Kconfig.passthrough)
pcipass_config = $(or $(PCIPASS_CONFIG),.config)
pcipass_nodes = $(or $(PCIPASS_NODES),$(if $(PCIPASS_GUESTS),,$(or $(KDEVOPS_NODES),$(firstword \
	$(wildcard guestfs/kdevops_nodes.yaml kdevops_nodes.yaml)))))
# Where the guests are defined (kdevops' CONFIG_LIBVIRT_URI from .config):
# read only, to refuse a device another guest holds and a guest defined
# already with other devices. Not when PCIPASS_SOURCE_ARGS names -c itself.
pcipass_uri = $(if $(filter -c --connect,$(PCIPASS_SOURCE_ARGS)),,$(or \
	$(PCIPASS_LIBVIRT_URI),$(subst ",,$(CONFIG_LIBVIRT_URI))))
pcipass_xml_dir = $(or $(PCIPASS_XML_DIR),$(patsubst %/,%,$(wildcard guestfs/)))
pcipass_plan_args = --config $(pcipass_config) \
	$(if $(pcipass_nodes),--nodes $(pcipass_nodes)) \
	$(if $(PCIPASS_GUESTS),--guests $(PCIPASS_GUESTS)) \
	$(if $(wildcard $(pcipass_generated)),--generated $(pcipass_generated))

pcipass_kconfig_args = $(PCIPASS_KCONFIG_ARGS) -o $(pcipass_generated) \
	$(if $(wildcard $(pcipass_config)),--config $(pcipass_config))

pcipass-kconfig:
	$(pcipass_bin) $(PCIPASS_SOURCE_ARGS) kconfig $(strip $(pcipass_kconfig_args))

pcipass-menu:
	$(pcipass_bin) kconfig --menu -o $(pcipass_menu)

pcipass_bringup_args = $(pcipass_plan_args) $(if $(pcipass_xml_dir),--xml-dir $(pcipass_xml_dir)) \
	$(PCIPASS_BRINGUP_ARGS)

pcipass-plan:
	$(pcipass_bin) $(PCIPASS_SOURCE_ARGS) plan $(strip $(pcipass_plan_args))

pcipass-bringup:
	$(pcipass_bin) $(PCIPASS_SOURCE_ARGS) $(if $(pcipass_uri),-c $(pcipass_uri)) bringup \
		$(strip $(pcipass_bringup_args))

pcipass-help:
	@echo "pcipass-kconfig    - scan this host's PCI devices into $(pcipass_generated)"
	@echo "pcipass-menu       - write the static passthrough menu $(pcipass_menu)"
	@echo "pcipass-plan       - show which passthrough device goes to which guest"
	@echo "pcipass-bringup    - bind the planned devices to vfio-pci, add them to the guests"

.PHONY: pcipass-kconfig pcipass-menu pcipass-plan pcipass-bringup pcipass-help

.DEFAULT_GOAL := $(pcipass_default_goal)
