"""Policy reforms: the platform's history decided under the current policy and a reformed one."""
