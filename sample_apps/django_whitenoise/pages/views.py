import platform

import django
from django.http import JsonResponse
from django.shortcuts import render


def index(request):
    # No database access here: the page renders without running migrations.
    context = {
        "django_version": django.get_version(),
        "python_version": platform.python_version(),
    }
    return render(request, "pages/index.html", context)


def health(request):
    return JsonResponse({"status": "ok"})
