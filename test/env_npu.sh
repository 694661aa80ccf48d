#!/usr/bin/env bash
# CANN environment for Ascend NPU runs. The launchers in test/ source this file; it does
# nothing on machines without the Ascend toolkit, so it is harmless on GPU or CPU hosts.
#
#   source test/env_npu.sh        # by hand, before running tools/train.py on an NPU
#
# Every variable below keeps a value already set in the environment.

_mipnet_cann_root() {
    local conf=/etc/Ascend/ascend_cann_install.info
    if [ -n "${ASCEND_HOME:-}" ]; then
        echo "$ASCEND_HOME"
    elif [ -f "$conf" ] && grep -q '^Install_Path=' "$conf"; then
        grep '^Install_Path=' "$conf" | head -n 1 | cut -d '=' -f 2
    else
        echo /usr/local/Ascend
    fi
}

_mipnet_cann_env=''
for _mipnet_candidate in "$(_mipnet_cann_root)/ascend-toolkit/set_env.sh" \
                         "$(_mipnet_cann_root)/nnae/set_env.sh"; do
    if [ -f "$_mipnet_candidate" ]; then
        _mipnet_cann_env=$_mipnet_candidate
        break
    fi
done

if [ -n "$_mipnet_cann_env" ]; then
    # set_env.sh is not written for `set -u`; relax it while sourcing.
    case $- in *u*) _mipnet_had_u=1; set +u ;; *) _mipnet_had_u=0 ;; esac
    # shellcheck disable=SC1090
    source "$_mipnet_cann_env"
    [ "$_mipnet_had_u" = 1 ] && set -u

    # Logs: errors only, not on stdout; no event logs.
    export ASCEND_GLOBAL_LOG_LEVEL=${ASCEND_GLOBAL_LOG_LEVEL:-3}
    export ASCEND_SLOG_PRINT_TO_STDOUT=${ASCEND_SLOG_PRINT_TO_STDOUT:-0}
    export ASCEND_GLOBAL_EVENT_ENABLE=${ASCEND_GLOBAL_EVENT_ENABLE:-0}
    # Asynchronous operator dispatch (1; 2 = the newer two-level queue on recent CANN).
    export TASK_QUEUE_ENABLE=${TASK_QUEUE_ENABLE:-1}
    export COMBINED_ENABLE=${COMBINED_ENABLE:-1}
    # HCCL: no IP whitelist, generous connection timeout for 8-device start-up.
    export HCCL_WHITELIST_DISABLE=${HCCL_WHITELIST_DISABLE:-1}
    export HCCL_CONNECT_TIMEOUT=${HCCL_CONNECT_TIMEOUT:-1200}
    export HCCL_EXEC_TIMEOUT=${HCCL_EXEC_TIMEOUT:-1800}
    # Fewer memory-fragmentation failures with variable-size evaluation batches.
    export PYTORCH_NPU_ALLOC_CONF=${PYTORCH_NPU_ALLOC_CONF:-expandable_segments:True}
    export MIPNET_CANN_ENV=$_mipnet_cann_env
fi
unset _mipnet_candidate _mipnet_cann_env _mipnet_had_u
unset -f _mipnet_cann_root
