"""Korean advertising law (정보통신망법 제50조) as pure functions, unsubscribe links and the legal notices."""
