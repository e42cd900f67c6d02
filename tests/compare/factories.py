from compare import services


def comparison(user=None, prompt="a red fox in snow", routes=("sandbox:fast", "sandbox:steady"), **params):
    params = {"size": "1024x1024", "quality": "low", "output_format": "png", "n": 1, "seed": None, **params}
    return services.create_comparison(user=user, prompt=prompt, route_keys=list(routes), params=params)
