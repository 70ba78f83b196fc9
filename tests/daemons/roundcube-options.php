<?php
// Prints, as JSON, the options the config file in argv[1] sets that none of the option files in
// argv[2..] (Roundcube's defaults.inc.php and its plugins' config.inc.php.dist) defines.
define("RCUBE_INSTALL_PATH", "/usr/share/roundcube/");
$known = [];
foreach (array_slice($argv, 2) as $file) {
    $config = [];
    include $file;
    $known += $config;
}
$config = [];
include $argv[1];
echo json_encode(array_values(array_diff(array_keys($config), array_keys($known))));
