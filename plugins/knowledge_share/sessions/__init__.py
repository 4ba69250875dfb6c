"""Knowledge-sharing sessions: agenda of stories, invitees, .ics, attendance, minutes, action items."""
