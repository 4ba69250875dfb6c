"""The partner view: a leader's dashboard of their group's programmes, approvals waiting, downline attendance and results; distributors see their own customers' invitations."""
