"""Table-driven workflows for reviewable things: guarded transitions, history, revision-bound approvals."""
