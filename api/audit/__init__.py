"""The audit register: what an entry holds, the hash chain, subject tokens, outcomes, and the published summary."""
