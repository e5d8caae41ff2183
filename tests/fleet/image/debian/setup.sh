#!/bin/sh
# Runs inside the debootstrap rootfs (chroot) to turn it into a systemd test host that Ansible reaches over SSH.
set -eu

# The admin user the fleet inventory logs in as (Debian's EC2 AMIs use "admin"), with passwordless sudo.
useradd --create-home --shell /bin/bash admin
echo 'admin ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/admin
chmod 0440 /etc/sudoers.d/admin

# sshd: keys only, authorized keys bind-mounted per fleet, host keys made on first boot (unique per host).
mkdir -p /etc/ssh/authorized_keys
cat > /etc/ssh/sshd_config.d/fleet.conf <<'CONF'
AuthorizedKeysFile /etc/ssh/authorized_keys/%u .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
CONF
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
  > /etc/systemd/system/ssh.service.d/hostkeys.conf

# The registry package is here for the registry host only; test hosts do not run it.
systemctl disable docker-registry.service >/dev/null 2>&1 || true

# Units that make no sense in a container. systemd-modules-load: kernel modules are the machine's business, and
# trixie's (systemd 257) fails without /lib/modules, leaving the host "degraded".
for unit in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
            systemd-remount-fs.service e2scrub_reap.service sys-kernel-config.mount sys-kernel-debug.mount \
            systemd-modules-load.service; do
  ln -sf /dev/null "/etc/systemd/system/$unit"
done

# Debian's archive with updates and security (mirrors passed by fleet.py: FLEET_DEBIAN_MIRROR and
# FLEET_DEBIAN_SECURITY_MIRROR) and the suite.
mirror=${1:-http://deb.debian.org/debian}
security=${2:-http://deb.debian.org/debian-security}
suite=${3:-bookworm}
rm -f /etc/apt/sources.list.d/debian.sources
cat > /etc/apt/sources.list <<LIST
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
LIST
apt-get clean
# apt's lists stay, so check mode on a fresh host can predict versions; roles refresh them anyway.
rm -rf /var/log/*.log
echo 'fleetops test host' > /etc/motd
