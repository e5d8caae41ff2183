#!/bin/sh
# Runs in the chroot after ../debian/setup.sh: turns the Debian host into the AL2023 stand-in (real dnf and rpm
# on a Debian userland). Ansible's facts read /etc/os-release and /etc/system-release: Amazon, RedHat, dnf.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends $(grep -v '^#' /tmp/recipe/packages.txt)
apt-get clean
cp /tmp/recipe/os-release /usr/lib/os-release
ln -sf ../usr/lib/os-release /etc/os-release
cp /tmp/recipe/system-release /etc/system-release
ln -sf system-release /etc/amazon-linux-release
# dnf takes $releasever from the rpm database's system-release package, which a Debian userland lacks.
mkdir -p /etc/dnf/vars /etc/yum.repos.d
echo 2023.6.20250107 > /etc/dnf/vars/releasever
rm -f /etc/yum.repos.d/*
cp /tmp/recipe/amazonlinux.repo /etc/yum.repos.d/amazonlinux.repo
cat > /etc/dnf/dnf.conf <<'CONF'
[main]
gpgcheck=0
installonly_limit=3
clean_requirements_on_remove=True
best=False
skip_if_unavailable=False
CONF
# Debian's dnf-plugins-core enables two plugins AL2023 does not run: `local` (calls createrepo_c after every
# transaction) and `show_leaves` (prints "New leaves:").
printf '[main]\nenabled=0\n' > /etc/dnf/plugins/local.conf
printf '[main]\nenabled=0\n' > /etc/dnf/plugins/show-leaves.conf
# Debian's rpm keeps its database in ~/.rpmdb (beside dpkg's); AL2023's is /var/lib/rpm, with its lock .rpm.lock.
mkdir -p /etc/rpm && echo "%_dbpath /var/lib/rpm" > /etc/rpm/macros.dbpath
rpm --initdb
# The RPMs' docker group and units: nothing from Debian's docker packages is here.
echo 'fleetops AL2023 stand-in: real dnf 4.14 and rpm 4.18 on Debian 12, not Amazon Linux' > /etc/motd
