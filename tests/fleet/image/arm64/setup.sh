#!/bin/sh
# Runs inside the arm64 rootfs (chroot, through qemu-user) after ../debian/setup.sh: what an arm64 systemd host
# with its own dockerd needs when its CPU is qemu-user on an x86_64 kernel. See README "Emulated arm64 host".
set -eu
native=/usr/local/lib/fleetops-native

# systemd 252 cannot set up unit credentials under qemu-user ("step CREDENTIALS ... Invalid argument"):
# an empty LoadCredential= clears them for every unit that asks for some.
for unit in $(grep -l -E '^(Load|Set)Credential' /lib/systemd/system/*.service); do
  name=$(basename "$unit")
  mkdir -p "/etc/systemd/system/$name.d"
  printf '[Service]\nLoadCredential=\nSetCredential=\n' > "/etc/systemd/system/$name.d/qemu-user.conf"
done

# A systemd user manager cannot start under qemu-user (no PR_SET_CHILD_SUBREAPER; user@.service times out after
# 90 s), and pam_systemd makes every SSH login wait for it: masked, so logins go on without one (pam-auth-update
# puts pam_systemd back when a package asks for it, so removing that line alone does not last).
ln -sf /dev/null /etc/systemd/system/user@.service
sed -i '/pam_systemd\.so/d' /etc/pam.d/common-session

# qemu-user passes no netfilter calls, arm64 runc cannot clone its namespaces and containerd-shim-runc-v2 makes a
# syscall qemu refuses: use the native amd64 builds (same Debian versions), with their libraries via multiarch.
dpkg --add-architecture amd64
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  libc6:amd64 libseccomp2:amd64 libmnl0:amd64 libnftnl11:amd64 libxtables12:amd64 libip4tc2:amd64 \
  libip6tc2:amd64 libnetfilter-conntrack3:amd64 libnfnetlink0:amd64
mkdir -p /tmp/native "$native"
cd /tmp/native
apt-get download -q runc:amd64 containerd:amd64 iptables:amd64
for deb in *.deb; do dpkg-deb -x "$deb" root; done
install -m 0755 root/usr/sbin/runc "$native/runc"
install -m 0755 root/usr/bin/containerd-shim-runc-v2 "$native/containerd-shim-runc-v2"
install -m 0755 root/usr/sbin/xtables-nft-multi "$native/xtables-nft-multi"
cp -a root/usr/lib/x86_64-linux-gnu/xtables /usr/lib/x86_64-linux-gnu/
cd /
rm -rf /tmp/native

# First on systemd's PATH, so dockerd and containerd find them before the arm64 packages the roles install.
ln -sf "$native/containerd-shim-runc-v2" /usr/local/bin/containerd-shim-runc-v2
for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf "$native/xtables-nft-multi" "/usr/local/sbin/$tool"
done
# Docker's libnetwork prestart hook is /proc/<dockerd pid>/exe, which is the qemu interpreter here: point it at
# dockerd (binfmt's P flag keeps argv[0] "libnetwork-setkey", which dockerd dispatches on).
cat > /usr/local/sbin/runc <<WRAPPER
#!/bin/sh
bundle= prev=
for arg in "\$@"; do
  case \$prev in --bundle|-b) bundle=\$arg ;; esac
  case \$arg in --bundle=*) bundle=\${arg#--bundle=} ;; esac
  prev=\$arg
done
if [ -n "\$bundle" ] && [ -f "\$bundle/config.json" ]; then
  sed -i 's#"/proc/[0-9]*/exe"#"/usr/sbin/dockerd"#g' "\$bundle/config.json"
fi
exec $native/runc "\$@"
WRAPPER
chmod 0755 /usr/local/sbin/runc
apt-get clean
