# SSH CLI (server/cli): the tests drive it with a real OpenSSH client,
# through sshpass (password logins) and tmux (a terminal for TAB and ?),
# and validate `| display json` with yanglint (libyang2-tools).
DEBIAN_PACKAGES += openssh-client sshpass tmux libyang2-tools
