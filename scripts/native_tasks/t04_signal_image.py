# ruff: noqa: E501  (instructions and reference code are task text, kept as a user would write them)
from native_tasks import S, Task

vibration = Task(
    "vibration-signal", "A vibration sensor: spikes, spectrum and filtering", "scipy", "hard", [
        S("num", "pandas", """
File path: `data/vibration.csv` (columns `time_s` and `accel`).

Load it into `sig`. Compute the sampling frequency `fs` in Hz from the time step between
samples (as an integer) and print `fs` and the number of samples, separated by a space.""", """
import numpy as np
import pandas as pd
sig = pd.read_csv("data/vibration.csv")
fs = int(round(1 / np.median(np.diff(sig["time_s"]))))
print(fs, len(sig))"""),
        S("num", "scipy", """
The signal has a few spikes. Compute the z-score of `accel` (`scipy.stats.zscore`, default
ddof=0) and call every sample with an absolute z-score above 4 a spike. Make an array `x`: a
copy of `accel` where each spike is replaced by the value of `scipy.signal.medfilt(accel,
kernel_size=5)` at that sample. Print the number of spikes and their sample indices, separated
by spaces.""", """
from scipy import signal, stats
accel = sig["accel"].to_numpy()
z = stats.zscore(accel)
spikes = np.flatnonzero(np.abs(z) > 4)
x = accel.copy()
x[spikes] = signal.medfilt(accel, kernel_size=5)[spikes]
print(len(spikes), *spikes)"""),
        S("num", "numpy", """
Compute the amplitude spectrum of `x` with `np.fft.rfft` (amplitude: absolute value × 2 / number
of samples) and the frequencies with `np.fft.rfftfreq(len(x), 1 / fs)`, as arrays `amp` and
`freqs`. Which two frequencies have the largest amplitudes? Print them in Hz, ascending,
separated by a space.""", """
amp = np.abs(np.fft.rfft(x)) * 2 / len(x)
freqs = np.fft.rfftfreq(len(x), 1 / fs)
top2 = np.sort(freqs[np.argsort(amp)[-2:]])
print(*top2)"""),
        S("vis", "matplotlib", """
Plot the amplitude spectrum (`amp` against `freqs`) from 0 to 100 Hz as a line, x label
'frequency (Hz)', y label 'amplitude', title 'Amplitude spectrum'.""", """
import matplotlib.pyplot as plt
band = freqs <= 100
plt.figure(figsize=(8, 4))
plt.plot(freqs[band], amp[band])
plt.xlabel("frequency (Hz)")
plt.ylabel("amplitude")
plt.title("Amplitude spectrum")
plt.show()"""),
        S("check", "scipy", """
Design a 4th-order Butterworth low-pass filter with a 20 Hz cut-off (`scipy.signal.butter(4, 20,
btype="low", fs=fs)`) and apply it forwards and backwards with `scipy.signal.filtfilt` to `x`;
call the result `filtered`.""", """
b, a = signal.butter(4, 20, btype="low", fs=fs)
filtered = signal.filtfilt(b, a, x)""", """
import numpy as _np
assert _np.shape(filtered) == (2000,)
_f = _np.abs(_np.fft.rfft(filtered)) * 2 / 2000
_fr = _np.fft.rfftfreq(2000, 1 / 500)
assert _f[_np.argmin(abs(_fr - 40))] < 0.05 and _f[_np.argmin(abs(_fr - 12))] > 0.8"""),
        S("num", "scipy", """
Count the peaks of `filtered` with `scipy.signal.find_peaks(filtered, height=0.5, distance=20)`.
How many are there?""", """
peaks, _ = signal.find_peaks(filtered, height=0.5, distance=20)
len(peaks)"""),
        S("vis", "matplotlib", """
Plot the first second of `x` (thin grey line, label 'cleaned') and of `filtered` (label
'low-pass 20 Hz') against `time_s`, with a legend, x label 'time (s)' and title 'Before and after
filtering'.""", """
first = sig["time_s"] < 1
plt.figure(figsize=(9, 4))
plt.plot(sig["time_s"][first], x[first], color="grey", linewidth=0.8, label="cleaned")
plt.plot(sig["time_s"][first], filtered[first], label="low-pass 20 Hz")
plt.xlabel("time (s)")
plt.title("Before and after filtering")
plt.legend()
plt.show()"""),
    ])

coins = Task(
    "coins-segmentation", "Counting coins with thresholding and labelling", "skimage", "medium", [
        S("num", "skimage", """
Load the greyscale image `skimage.data.coins()` into `img`. Print its height, its width and its
mean intensity rounded to 2 decimals, separated by spaces.""", """
import numpy as np
from skimage import data
img = data.coins()
print(img.shape[0], img.shape[1], round(float(img.mean()), 2))"""),
        S("num", "skimage", """
What is the Otsu threshold of `img` (`skimage.filters.threshold_otsu`)? Store it in `thresh`
and print it.""", """
from skimage.filters import threshold_otsu
thresh = threshold_otsu(img)
print(thresh)"""),
        S("check", "scipy", """
Build a boolean mask `mask` in this order: take the pixels brighter than `thresh`, close them
with `scipy.ndimage.binary_closing` using a 3×3 structure of ones, fill the holes
(`scipy.ndimage.binary_fill_holes`), then remove the objects touching the border
(`skimage.segmentation.clear_border`). Then label its connected regions with
`skimage.measure.label` (default connectivity) into `labels`.""", """
from scipy import ndimage as ndi
from skimage.measure import label
from skimage.segmentation import clear_border
mask = ndi.binary_closing(img > thresh, structure=np.ones((3, 3), bool))
mask = ndi.binary_fill_holes(mask)
mask = clear_border(mask)
labels = label(mask)""", """
import numpy as _np
assert mask.dtype == bool and mask.shape == (303, 384)
assert labels.shape == (303, 384) and int(labels.max()) == 56, int(labels.max())"""),
        S("num", "skimage", """
Using `skimage.measure.regionprops(labels)`, keep the regions with an area of at least 100 pixels
(call that list `coins`). How many are there?""", """
from skimage.measure import regionprops
coins = [r for r in regionprops(labels) if r.area >= 100]
len(coins)"""),
        S("num", "skimage", """
Print the mean area of the regions in `coins` rounded to 1 decimal and the largest area,
separated by a space.""", """
areas = np.array([r.area for r in coins])
print(round(float(areas.mean()), 1), int(areas.max()))"""),
        S("vis", "matplotlib", """
Show `img` (grey colormap) and, beside it, the mask `mask` in a 1×2 figure, titled 'coins' and
'mask', without axes.""", """
import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].imshow(img, cmap="gray")
axes[0].set_title("coins")
axes[1].imshow(mask, cmap="gray")
axes[1].set_title("mask")
for ax in axes:
    ax.axis("off")
plt.show()"""),
        S("check", "skimage", """
Save the mask as an 8-bit greyscale PNG `coins_mask.png` (0 for background, 255 for coins)
with Pillow (`PIL.Image.fromarray(...).save`).""", """
from PIL import Image
Image.fromarray((mask * 255).astype(np.uint8)).save("coins_mask.png")""", """
import numpy as _np
from PIL import Image as _Image
_m = _np.asarray(_Image.open("coins_mask.png"))
assert _m.shape == (303, 384) and set(_np.unique(_m)) <= {0, 255}
assert ((_m > 0) == mask).all()"""),
    ])

camera = Task(
    "camera-edges", "Blurring and edge detection with OpenCV", "opencv", "medium", [
        S("num", "skimage", """
Load `skimage.data.camera()` into `img` (a greyscale uint8 image). Print its height, width, mean
and standard deviation (the last two rounded to 2 decimals), separated by spaces.""", """
import numpy as np
from skimage import data
img = data.camera()
print(img.shape[0], img.shape[1], round(float(img.mean()), 2), round(float(img.std()), 2))"""),
        S("num", "opencv", """
Blur `img` with `cv2.GaussianBlur(img, (5, 5), 1.5)` into `blurred`. What is the mean absolute
difference between `img` and `blurred` (as floats), rounded to 3 decimals?""", """
import cv2
blurred = cv2.GaussianBlur(img, (5, 5), 1.5)
round(float(np.abs(img.astype(float) - blurred.astype(float)).mean()), 3)"""),
        S("num", "opencv", """
Detect edges in `blurred` with `cv2.Canny(blurred, 50, 150)` into `edges`. How many edge pixels
(non-zero values) are there?""", """
edges = cv2.Canny(blurred, 50, 150)
int(np.count_nonzero(edges))"""),
        S("vis", "matplotlib", """
Show `img`, `blurred` and `edges` side by side in a 1×3 figure (grey colormap, no axes), titled
'original', 'blurred' and 'edges'.""", """
import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, im, title in zip(axes, [img, blurred, edges], ["original", "blurred", "edges"]):
    ax.imshow(im, cmap="gray")
    ax.set_title(title)
    ax.axis("off")
plt.show()"""),
        S("vis", "matplotlib", """
Draw a histogram of the pixel intensities of `img` with 64 bins over the range 0–256, x label
'intensity', title 'Intensity histogram'.""", """
plt.figure(figsize=(7, 4))
plt.hist(img.ravel(), bins=64, range=(0, 256))
plt.xlabel("intensity")
plt.title("Intensity histogram")
plt.show()"""),
        S("num", "skimage", """
Compute the Sobel gradient magnitude of `img` scaled to [0, 1] (`skimage.filters.sobel(img /
255)`). Print its mean rounded to 4 decimals.""", """
from skimage.filters import sobel
print(round(float(sobel(img / 255).mean()), 4))"""),
        S("check", "opencv", """
Resize `img` to 256×256 pixels with `cv2.resize(..., interpolation=cv2.INTER_AREA)` into
`small` and write it to `camera_small.png` with `cv2.imwrite`.""", """
small = cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)
cv2.imwrite("camera_small.png", small)""", """
import cv2 as _cv2
_s = _cv2.imread("camera_small.png", _cv2.IMREAD_UNCHANGED)
assert _s is not None and _s.shape == (256, 256), None if _s is None else _s.shape
assert abs(float(_s.mean()) - float(img.mean())) < 1.0"""),
    ])

TASKS = [vibration, coins, camera]
